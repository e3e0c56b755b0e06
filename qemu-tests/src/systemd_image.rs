//! The Debian bookworm image with systemd as PID 1 (the `systemd` suite).
//!
//! A base root is built once with `mmdebstrap --variant=minbase` from the Debian mirror the
//! host's apt uses, with Debian's kernel, and cached under `<cache>/systemd/` keyed by a hash
//! of this recipe. Debian's amd64 kernel has virtio_blk and ext4 as modules, so it needs an
//! initrd: a small one is made from the root's static busybox and the few modules the root
//! disk needs (initramfs-tools' own, made inside the root with `MODULES=list`, is kept as the
//! fallback; it boots too, 12–15 s slower under TCG). Per run, dmzkit's files are laid over a
//! hard-linked copy of that root and an ext4 disk image is written from it with `mke2fs -d`
//! (no loop mount); QEMU boots Debian's kernel with `root=/dev/vda` and `-snapshot`.
//!
//! Units a test VM does not need are masked (udev, gettys, timers, module loading, sysctl,
//! every generator): systemd reaches multi-user.target in about half the time under TCG.

use crate::cmd;
use crate::kernel;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Packages on top of minbase (no Recommends: mmdebstrap's default).
const PACKAGES: [&str; 10] = [
    "systemd-sysv",
    "udev", // initramfs-tools finds the root device with it (masked in the booted system)
    "linux-image-amd64",
    "initramfs-tools",
    "zstd",           // initramfs-tools compresses with it
    "busybox-static", // the small initrd's only program
    "python3",
    "libcap2-bin",    // setcap, getcap
    "netcat-openbsd", // the seed scenario's target
    "libseccomp2",    // the launcher links it
];

/// Left out of the root by dpkg.
const EXCLUDES: [&str; 4] =
    ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"];

/// initramfs-tools hook: only the modules the root disk needs (MODULES=list), loaded early.
const INITRAMFS_HOOK: &str = "#!/bin/sh\n\
case \"$1\" in prereqs) exit 0 ;; esac\n\
. /usr/share/initramfs-tools/hook-functions\n\
force_load virtio_pci\n\
force_load virtio_blk\n\
force_load ext4\n";

/// Units a test VM does not need; each is linked to /dev/null.
const MASKED: [&str; 38] = [
    "getty.target",
    "getty-static.service",
    "serial-getty@.service",
    "getty@.service",
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "fstrim.timer",
    "systemd-tmpfiles-clean.timer",
    "modprobe@.service",
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "systemd-random-seed.service",
    "systemd-sysusers.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-journal-flush.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-modules-load.service",
    "systemd-sysctl.service",
    "systemd-pstore.service",
    "proc-sys-fs-binfmt_misc.automount",
    "systemd-binfmt.service",
    "systemd-firstboot.service",
    "systemd-repart.service",
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
    "kmod-static-nodes.service",
];

/// Bumped when the steps below change in a way the lists above do not show.
const RECIPE_VERSION: u32 = 2;

/// What the small initrd loads, dependencies first (modules.dep adds the rest): the virtio
/// PCI transport and block driver, ext4, and the crc32c implementation ext4's metadata
/// checksums need (the kernel would ask modprobe for it, which the initrd does not have).
const INITRD_MODULES: [&str; 4] = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/// A built base: the root directory and what boots it.
pub struct Base {
    pub root: PathBuf,
    /// What QEMU boots: the decompressed PVH vmlinux when it could be made, else Debian's
    /// bzImage (`vmlinuz` next to it).
    pub boot: PathBuf,
    pub initrd: PathBuf,
    /// `linux-image-*` version string, e.g. `6.1.0-50-amd64`.
    pub kernel: String,
    /// Set when this call built it (not from the cache).
    pub built_in: Option<Duration>,
}

fn recipe() -> String {
    format!(
        "v{RECIPE_VERSION} bookworm minbase\n{}\n{}\n{INITRAMFS_HOOK}\n{}\n",
        PACKAGES.join(","),
        EXCLUDES.join(","),
        MASKED.join(",")
    )
}

/// FNV-1a, 64 bit: a stable name for the recipe (no hashing crate needed for a cache key).
fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", p.display())
}

/// The tools the image build needs, with the Debian package that has each.
pub fn check_tools() -> Result<(), String> {
    for (tool, pkg) in [("mmdebstrap", "mmdebstrap"), ("mke2fs", "e2fsprogs"), ("cp", "coreutils")] {
        if !cmd::in_path(tool) {
            return Err(format!("{tool} not found (Debian package {pkg}; scripts/setup installs it)"));
        }
    }
    Ok(())
}

/// The cached base for this recipe, built first if missing (or if `rebuild`).
pub fn base(cache: &Path, rebuild: bool) -> Result<Base, String> {
    let dir = cache.join("systemd").join(format!("x86_64-{:016x}", fnv64(&recipe())));
    if dir.join("done").is_file() && !rebuild {
        return load(&dir, None);
    }
    let tmp = dir.with_extension("tmp");
    remove_tree(&tmp)?;
    remove_tree(&dir)?;
    fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let started = Instant::now();
    build(&tmp)?;
    fs::rename(&tmp, &dir).map_err(io(&dir))?;
    fs::write(dir.join("done"), recipe()).map_err(io(&dir))?;
    // Bases of earlier recipes are not used again.
    for e in fs::read_dir(dir.parent().expect("under the cache")).map_err(io(&dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("x86_64-") && e.path() != dir {
            remove_tree(&e.path())?;
        }
    }
    load(&dir, Some(started.elapsed()))
}

fn load(dir: &Path, built_in: Option<Duration>) -> Result<Base, String> {
    let kernel = fs::read_to_string(dir.join("kernel")).map_err(io(dir))?.trim().to_string();
    let pvh = dir.join("vmlinux-pvh");
    let boot = if pvh.is_file() { pvh } else { dir.join("vmlinuz") };
    let small = dir.join("initrd-small.cpio");
    let initrd = if small.is_file() { small } else { dir.join("initrd.img") };
    Ok(Base { root: dir.join("rootfs"), boot, initrd, kernel, built_in })
}

fn remove_tree(p: &Path) -> Result<(), String> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

fn build(out: &Path) -> Result<(), String> {
    let root = out.join("rootfs");
    let hook = out.join("initramfs-hook");
    fs::write(&hook, INITRAMFS_HOOK).map_err(io(&hook))?;
    let mirror = kernel::host_mirror().unwrap_or_else(|| "http://deb.debian.org/debian".into());
    eprintln!("image: mmdebstrap bookworm from {mirror} (first run: a few minutes)");
    let mut c = Command::new("mmdebstrap");
    c.args(["--variant=minbase", "--mode=root", "-q"]);
    c.arg(format!("--include={}", PACKAGES.join(",")));
    for e in EXCLUDES {
        c.arg(format!("--dpkgopt=path-exclude={e}"));
    }
    // Before the kernel's postinst runs update-initramfs: a small initrd with the three
    // modules the root disk needs instead of MODULES=most.
    c.arg(format!(
        "--essential-hook=mkdir -p \"$1/etc/initramfs-tools/conf.d\" \"$1/etc/initramfs-tools/hooks\" && \
         echo MODULES=list > \"$1/etc/initramfs-tools/conf.d/dmzkit\" && \
         install -m 0755 {} \"$1/etc/initramfs-tools/hooks/dmzkit\"",
        hook.display()
    ));
    c.arg("bookworm").arg(&root).arg(&mirror);
    cmd::run(&mut c)?;

    // Kernel and initrd out of the root; the modules (400 MB) and /boot go.
    let boot = root.join("boot");
    let mut kernel = None;
    for e in fs::read_dir(&boot).map_err(io(&boot))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_prefix("vmlinuz-") {
            kernel = Some(v.to_string());
        }
    }
    let kernel = kernel.ok_or_else(|| format!("{}: no vmlinuz-*", boot.display()))?;
    for (from, to) in
        [(format!("vmlinuz-{kernel}"), "vmlinuz"), (format!("initrd.img-{kernel}"), "initrd.img")]
    {
        fs::copy(boot.join(&from), out.join(to)).map_err(io(&boot.join(&from)))?;
    }
    fs::write(out.join("kernel"), &kernel).map_err(io(out))?;
    match small_initrd(&root, &kernel) {
        Ok(cpio) => fs::write(out.join("initrd-small.cpio"), cpio).map_err(io(out))?,
        Err(e) => eprintln!("image: booting initramfs-tools' initrd (slower), no small initrd: {e}"),
    }
    remove_tree(&boot)?;
    fs::create_dir(&boot).map_err(io(&boot))?;
    let modules = root.join("usr/lib/modules");
    remove_tree(&modules)?;
    fs::create_dir(&modules).map_err(io(&modules))?;
    if let Err(e) = kernel::make_pvh_vmlinux(&out.join("vmlinuz"), &out.join("vmlinux-pvh")) {
        eprintln!("image: booting the bzImage (slower), no PVH vmlinux: {e}");
    }
    configure(&root)
}

/// A small initrd: the root's static busybox, the modules of [`INITRD_MODULES`] with their
/// dependencies, and an /init that loads them, mounts /dev/vda and switches to it. It does
/// in 2–5 s what initramfs-tools' udev-based init does in 14–17 s under TCG.
fn small_initrd(root: &Path, kernel: &str) -> Result<Vec<u8>, String> {
    let moddir = root.join("usr/lib/modules").join(kernel);
    let dep_file = moddir.join("modules.dep");
    let deps = fs::read_to_string(&dep_file).map_err(io(&dep_file))?;
    let order = module_order(&deps, &INITRD_MODULES)?;
    let busybox = root.join("usr/bin/busybox");
    let mut a = crate::cpio::Archive::default();
    a.file("bin/busybox", 0o755, fs::read(&busybox).map_err(io(&busybox))?);
    let mut init = String::from(
        "#!/bin/busybox sh\n\
         /bin/busybox mount -t devtmpfs dev /dev\n",
    );
    for m in &order {
        if !m.ends_with(".ko") {
            return Err(format!("{m}: compressed module, busybox insmod loads plain .ko only"));
        }
        let name = m.rsplit('/').next().unwrap_or(m);
        a.file(&format!("lib/modules/{name}"), 0o644, fs::read(moddir.join(m)).map_err(io(&moddir.join(m)))?);
        init.push_str(&format!("/bin/busybox insmod /lib/modules/{name}\n"));
    }
    init.push_str(
        "i=0\n\
         while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do /bin/busybox sleep 0.05; i=$((i + 1)); done\n\
         /bin/busybox mount -t ext4 -o rw /dev/vda /root || { echo 'initrd: cannot mount /dev/vda'; exit 1; }\n\
         /bin/busybox mount --move /dev /root/dev\n\
         exec /bin/busybox switch_root /root /sbin/init\n",
    );
    a.file("init", 0o755, init.into_bytes());
    a.char_dev("dev/console", 0o600, 5, 1);
    a.dir("root", 0o755);
    Ok(a.to_bytes())
}

/// The module files (paths relative to the modules directory) that loading `wanted` takes,
/// each after the modules it depends on, from modules.dep (`path: dep dep ...`, where modprobe
/// loads the listed dependencies last to first).
fn module_order(modules_dep: &str, wanted: &[&str]) -> Result<Vec<String>, String> {
    let mut deps = std::collections::BTreeMap::new();
    for line in modules_dep.lines() {
        if let Some((m, d)) = line.split_once(':') {
            deps.insert(m.to_string(), d.split_whitespace().map(str::to_string).collect::<Vec<_>>());
        }
    }
    let mut order: Vec<String> = Vec::new();
    for w in wanted {
        let path = deps
            .keys()
            .find(|k| {
                let file = k.rsplit('/').next().unwrap_or(k);
                file.split('.').next() == Some(w)
            })
            .ok_or_else(|| format!("module {w} not in modules.dep"))?
            .clone();
        for d in deps[&path].iter().rev().chain(std::iter::once(&path)) {
            if !order.contains(d) {
                order.push(d.clone());
            }
        }
    }
    Ok(order)
}

/// What makes the root a quick test VM: a fixed machine id (no first-boot work), the masks,
/// no generators, multi-user.target, a volatile journal.
fn configure(root: &Path) -> Result<(), String> {
    write(root, "etc/machine-id", "d3a2c0de5e1f4b6a9c7d8e9f0a1b2c3d\n", 0o444)?;
    write(root, "etc/hostname", "dmzkit\n", 0o644)?;
    let units = root.join("etc/systemd/system");
    for u in MASKED {
        link(&units.join(u), "/dev/null")?;
    }
    link(&units.join("default.target"), "/usr/lib/systemd/system/multi-user.target")?;
    let gens = root.join("usr/lib/systemd/system-generators");
    let masked_gens = root.join("etc/systemd/system-generators");
    fs::create_dir_all(&masked_gens).map_err(io(&masked_gens))?;
    for e in fs::read_dir(&gens).map_err(io(&gens))?.flatten() {
        link(&masked_gens.join(e.file_name()), "/dev/null")?;
    }
    write(root, "etc/systemd/journald.conf.d/dmzkit.conf", "[Journal]\nStorage=volatile\n", 0o644)
}

/// Writes `rel` under `root` with `mode`, replacing (never writing through) what is there:
/// the per-run root shares its inodes with the cached base.
pub fn write(root: &Path, rel: &str, data: impl AsRef<[u8]>, mode: u32) -> Result<(), String> {
    let p = root.join(rel.trim_start_matches('/'));
    if let Some(dir) = p.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let _ = fs::remove_file(&p);
    fs::write(&p, data).map_err(io(&p))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(io(&p))
}

/// A symlink at `at` to `to`, replacing what is there.
pub fn link(at: &Path, to: &str) -> Result<(), String> {
    if let Some(dir) = at.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let _ = fs::remove_file(at);
    symlink(to, at).map_err(io(at))
}

/// A fresh per-run root at `dest`: hard links to the base's files (cheap; files are only ever
/// replaced, see [`write`]), a plain copy if `dest` is on another file system.
pub fn fresh_root(base: &Base, dest: &Path) -> Result<(), String> {
    remove_tree(dest)?;
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    if cmd::run(Command::new("cp").arg("-al").arg(&base.root).arg(dest)).is_ok() {
        return Ok(());
    }
    remove_tree(dest)?;
    cmd::run(Command::new("cp").arg("-a").arg(&base.root).arg(dest))
}

/// An ext4 image of `root` (`mke2fs -d`: owners, modes and extended attributes as in the
/// directory), sized to its contents plus room for what the run writes.
pub fn ext4(root: &Path, img: &Path) -> Result<(), String> {
    let du = cmd::output(Command::new("du").args(["-sm", "--apparent-size"]).arg(root))?;
    let mb: u64 = du.split_whitespace().next().and_then(|n| n.parse().ok()).ok_or("du: no size")?;
    let size = mb + mb / 4 + 128;
    let _ = fs::remove_file(img);
    cmd::output(
        Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-L", "dmzkit-root", "-d"])
            .arg(root)
            .arg(img)
            .arg(format!("{size}M")),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_follow_their_dependencies() {
        let dep = "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n\
                   kernel/fs/jbd2/jbd2.ko:\n\
                   kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n\
                   kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n";
        assert_eq!(
            module_order(dep, &["virtio_pci", "virtio_blk", "ext4"]).unwrap(),
            [
                "kernel/drivers/virtio/virtio.ko",
                "kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/virtio/virtio_pci.ko",
                "kernel/drivers/block/virtio_blk.ko",
                "kernel/fs/jbd2/jbd2.ko",
                "kernel/fs/mbcache.ko",
                "kernel/lib/crc16.ko",
                "kernel/fs/ext4/ext4.ko",
            ]
        );
        assert!(module_order(dep, &["nope"]).is_err());
    }

    #[test]
    fn recipe_key_changes_with_the_recipe() {
        assert_eq!(fnv64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv64(&recipe()), fnv64(&recipe().replace("python3", "python3-minimal")));
    }
}
