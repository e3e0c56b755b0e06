//! Debian kernels, downloaded as .deb files without installing them (docs/design.md §9).
//!
//! A private apt configuration (own lists, cache and empty dpkg status, selected with
//! `APT_CONFIG`) points at the Debian mirror the host's apt already uses, with
//! `[arch=amd64,arm64,armhf] bookworm main` and `[arch=riscv64] trixie main` (bookworm has
//! no riscv64). The versioned image package is resolved from the meta-package's Depends at
//! fetch time (old ABIs disappear from the archive), downloaded with `apt-get download`, and
//! only `./boot/*` (plus, on x86_64, the watchdog modules) is extracted. The result is cached
//! under `<cache>/kernels/<arch>/`; later runs use it without the network unless asked to
//! refresh.

use crate::arch::Arch;
use crate::cmd;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Used when the host's apt sources name no Debian mirror.
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A kernel ready to boot.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The versioned package, e.g. `linux-image-6.1.0-41-amd64`.
    pub package: String,
    /// Its Debian version, e.g. `6.1.158-1`.
    pub version: String,
    /// The image as shipped (`vmlinuz-*`; riscv64 ships `vmlinux-*`, an EFI-stub Image).
    pub image: PathBuf,
    /// What QEMU boots: on x86_64 the decompressed ELF vmlinux (PVH entry, ~2 s faster than
    /// the bzImage under TCG, docs/design.md §9) when it could be made, else `image`.
    pub boot: PathBuf,
    /// On x86_64: directory with `watchdog.ko` and `i6300esb.ko`.
    pub modules: Option<PathBuf>,
}

/// Where cached kernels and the private apt state live: `$DMZKIT_QEMU_CACHE`, else
/// `<target dir>/qemu-cache`.
pub fn cache_dir(target_dir: &Path) -> PathBuf {
    std::env::var_os("DMZKIT_QEMU_CACHE").map(PathBuf::from).unwrap_or_else(|| target_dir.join("qemu-cache"))
}

/// Returns the cached kernel for `arch`, fetching it first if there is none (or if
/// `refresh` asks to re-resolve the meta-package).
pub fn get(cache: &Path, arch: Arch, refresh: bool) -> Result<Kernel, String> {
    let dir = cache.join("kernels").join(arch.name());
    let k = match load(&dir) {
        Some(k) if !refresh => k,
        _ => fetch(cache, arch, &dir)?,
    };
    Ok(with_pvh(arch, k))
}

/// On x86_64, boots the decompressed vmlinux (made once, next to the image) when possible.
fn with_pvh(arch: Arch, mut k: Kernel) -> Kernel {
    if arch != Arch::X86_64 || k.boot != k.image {
        return k;
    }
    let pvh = k.image.parent().and_then(Path::parent).map(|root| root.join("vmlinux-pvh"));
    match pvh {
        Some(pvh) => match make_pvh_vmlinux(&k.image, &pvh) {
            Ok(()) => k.boot = pvh,
            Err(e) => eprintln!("kernel {arch}: booting the bzImage (slower), no PVH vmlinux: {e}"),
        },
        None => eprintln!("kernel {arch}: booting the bzImage (slower): unexpected cache layout"),
    }
    k
}

/// Reads `<dir>/current` (`package version` of the last fetch) and checks the files exist.
fn load(dir: &Path) -> Option<Kernel> {
    let current = fs::read_to_string(dir.join("current")).ok()?;
    let mut it = current.split_whitespace();
    let (package, version) = (it.next()?.to_string(), it.next()?.to_string());
    let root = dir.join(format!("{package}_{version}"));
    let image = find_vmlinuz(&root.join("boot"))?;
    let modules = root.join("modules");
    let modules = modules.is_dir().then_some(modules);
    let pvh = root.join("vmlinux-pvh");
    let boot = if pvh.is_file() { pvh } else { image.clone() };
    Some(Kernel { package, version, image, boot, modules })
}

/// Decompresses an x86 bzImage's payload into an ELF vmlinux that QEMU boots through its PVH
/// entry (the kernel's XEN_ELFNOTE_PHYS32_ENTRY note; Debian builds CONFIG_PVH=y).
///
/// The payload is located from the setup header (Documentation/arch/x86/boot.rst):
/// `setup_sects` at 0x1f1, `payload_offset`/`payload_length` at 0x248/0x24c, relative to the
/// protected-mode code at `(setup_sects + 1) * 512`. The kernel appends the uncompressed size
/// (le32) to the xz stream; `xz -dc` complains about that tail, so success is judged by the
/// output: exactly that many bytes, starting with the ELF magic.
pub fn make_pvh_vmlinux(bzimage: &Path, out: &Path) -> Result<(), String> {
    let d = fs::read(bzimage).map_err(|e| format!("{}: {e}", bzimage.display()))?;
    let bad = |why: &str| format!("{}: {why}", bzimage.display());
    if d.len() < 0x250 || &d[0x202..0x206] != b"HdrS" {
        return Err(bad("not a bzImage (no HdrS setup header)"));
    }
    let le32 = |o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]) as usize;
    let base = (d[0x1f1] as usize + 1) * 512;
    let (off, len) = (le32(0x248), le32(0x24c));
    let payload = d.get(base + off..base + off + len).ok_or_else(|| bad("payload outside the file"))?;
    if !payload.starts_with(b"\xfd7zXZ\0") {
        return Err(bad("payload is not xz (CONFIG_KERNEL_XZ expected)"));
    }
    let size = u32::from_le_bytes(payload[len - 4..].try_into().expect("4 bytes")) as usize;
    let mut child = Command::new("xz")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("xz: {e} (Debian package xz-utils)"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let data = payload.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&data);
    });
    let output = child.wait_with_output().map_err(|e| format!("xz: {e}"))?;
    let _ = writer.join();
    let elf = output.stdout;
    if elf.len() != size || !elf.starts_with(b"\x7fELF") {
        return Err(bad(&format!("decompressed {} bytes, expected an ELF of {size}", elf.len())));
    }
    let tmp = out.with_extension("tmp");
    fs::write(&tmp, &elf).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))
}

fn find_vmlinuz(boot: &Path) -> Option<PathBuf> {
    fs::read_dir(boot).ok()?.flatten().map(|e| e.path()).find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("vmlinuz-") || n.starts_with("vmlinux-"))
    })
}

/// The private apt tree: config, sources, lists, cache, an empty dpkg status.
struct Apt {
    root: PathBuf,
    config: PathBuf,
}

impl Apt {
    fn new(cache: &Path) -> Result<Apt, String> {
        let root = cache.join("apt");
        let io = |e: std::io::Error| format!("{}: {e}", root.display());
        for d in ["lists/partial", "archives/partial", "sources.list.d", "preferences.d"] {
            fs::create_dir_all(root.join(d)).map_err(io)?;
        }
        let status = root.join("status");
        if !status.exists() {
            fs::write(&status, "").map_err(io)?;
        }
        let mirror = host_mirror().unwrap_or_else(|| DEFAULT_MIRROR.to_string());
        let sources = format!(
            "deb [arch=amd64,arm64,armhf signed-by={KEYRING}] {mirror} bookworm main\n\
             deb [arch=riscv64 signed-by={KEYRING}] {mirror} trixie main\n"
        );
        fs::write(root.join("sources.list"), sources).map_err(io)?;
        let r = root.display();
        // The host's apt.conf.d still applies (proxies, validity settings); only the state,
        // the sources and the architectures are this tree's own.
        let config = format!(
            "Dir::State \"{r}/\";\n\
             Dir::State::Lists \"{r}/lists/\";\n\
             Dir::State::status \"{r}/status\";\n\
             Dir::Cache \"{r}/\";\n\
             Dir::Cache::archives \"{r}/archives/\";\n\
             Dir::Cache::pkgcache \"\";\n\
             Dir::Cache::srcpkgcache \"\";\n\
             Dir::Etc::SourceList \"{r}/sources.list\";\n\
             Dir::Etc::SourceParts \"{r}/sources.list.d/\";\n\
             Dir::Etc::Preferences \"{r}/preferences\";\n\
             Dir::Etc::PreferencesParts \"{r}/preferences.d/\";\n\
             APT::Architecture \"amd64\";\n\
             APT::Architectures {{ \"amd64\"; \"arm64\"; \"armhf\"; \"riscv64\"; }};\n\
             Acquire::Languages \"none\";\n\
             Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n"
        );
        let path = root.join("apt.conf");
        fs::write(&path, config).map_err(io)?;
        Ok(Apt { root, config: path })
    }

    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("APT_CONFIG", &self.config).env("DEBIAN_FRONTEND", "noninteractive");
        c
    }

    /// `apt-get download SPEC` into the emptied directory `dl`; the .deb's path.
    fn download(&self, spec: &str, dl: &Path) -> Result<PathBuf, String> {
        let io = |e: std::io::Error| format!("{}: {e}", dl.display());
        let _ = fs::remove_dir_all(dl);
        fs::create_dir_all(dl).map_err(io)?;
        cmd::output(self.cmd("apt-get").args(["download", "-q", spec]).current_dir(dl))?;
        fs::read_dir(dl)
            .map_err(io)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or_else(|| format!("apt-get download {spec} left no .deb in {}", dl.display()))
    }

    /// `apt-get update` at most once per process (several arches share the lists).
    fn update(&self) -> Result<(), String> {
        let stamp = self.root.join("updated-by-pid");
        let me = std::process::id().to_string();
        if fs::read_to_string(&stamp).is_ok_and(|s| s == me) {
            return Ok(());
        }
        cmd::output(self.cmd("apt-get").args(["update", "-q"]))?;
        fs::write(&stamp, me).map_err(|e| format!("{}: {e}", stamp.display()))
    }
}

/// The Debian archive URI the host's apt uses: the first `deb` source whose suite is not a
/// security suite, from /etc/apt/sources.list (one-line format) or sources.list.d/*.list and
/// *.sources (deb822). `$DMZKIT_DEBIAN_MIRROR` overrides.
pub fn host_mirror() -> Option<String> {
    if let Ok(m) = std::env::var("DMZKIT_DEBIAN_MIRROR") {
        return Some(m);
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else { continue };
        let name = f.to_string_lossy();
        let found = if name.ends_with(".sources") {
            mirror_deb822(&text)
        } else if name.ends_with(".list") {
            mirror_one_line(&text)
        } else {
            None
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn is_debian_archive(uri: &str, suite: &str) -> bool {
    uri.contains("/debian") && !uri.contains("security") && !suite.contains("security")
}

fn mirror_one_line(text: &str) -> Option<String> {
    for line in text.lines() {
        let mut words = line.split_whitespace().peekable();
        if words.next() != Some("deb") {
            continue;
        }
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else { continue };
        if is_debian_archive(uri, suite) {
            return Some(uri.trim_end_matches('/').to_string());
        }
    }
    None
}

fn mirror_deb822(text: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(str::trim))
        };
        if field("Types").is_some_and(|t| !t.split_whitespace().any(|t| t == "deb"))
            || field("Enabled").is_some_and(|e| e == "no")
        {
            continue;
        }
        let (Some(uris), Some(suites)) = (field("URIs"), field("Suites")) else { continue };
        let suite = suites.split_whitespace().next().unwrap_or("");
        if let Some(uri) = uris.split_whitespace().find(|u| is_debian_archive(u, suite)) {
            return Some(uri.trim_end_matches('/').to_string());
        }
    }
    None
}

/// The versioned image package the meta-package depends on, and its version.
fn resolve(apt: &Apt, arch: Arch) -> Result<(String, String), String> {
    let meta = format!("{}:{}", arch.kernel_meta(), arch.deb_arch());
    let show = cmd::output(apt.cmd("apt-cache").args(["show", "--no-all-versions", &meta]))?;
    let depends = show
        .lines()
        .find_map(|l| l.strip_prefix("Depends:"))
        .ok_or_else(|| format!("{meta}: no Depends in apt-cache show"))?;
    let package = depends
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or(""))
        .find(|p| p.starts_with("linux-image-"))
        .ok_or_else(|| format!("{meta}: Depends names no linux-image package: {depends}"))?
        .to_string();
    let pkg = format!("{package}:{}", arch.deb_arch());
    let show = cmd::output(apt.cmd("apt-cache").args(["show", "--no-all-versions", &pkg]))?;
    let version = show
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| format!("{pkg}: no Version in apt-cache show"))?;
    Ok((package, version))
}

fn fetch(cache: &Path, arch: Arch, dir: &Path) -> Result<Kernel, String> {
    let apt = Apt::new(cache)?;
    eprintln!("kernel {arch}: resolving {} (apt-get update, private config)", arch.kernel_meta());
    apt.update()?;
    let (package, version) = resolve(&apt, arch)?;
    let root = dir.join(format!("{package}_{version}"));
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    if find_vmlinuz(&root.join("boot")).is_none() {
        eprintln!("kernel {arch}: downloading {package} {version}");
        let dl = dir.join("download");
        let deb = apt.download(&format!("{package}:{}={version}", arch.deb_arch()), &dl)?;
        let tmp = dir.join("extract");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        extract(&deb, &tmp, arch)?;
        let _ = fs::remove_dir_all(&root);
        fs::rename(&tmp, &root).map_err(|e| io(&root, e))?;
        fs::remove_dir_all(&dl).map_err(|e| io(&dl, e))?;
    }
    fs::write(dir.join("current"), format!("{package} {version}\n")).map_err(|e| io(dir, e))?;
    load(dir).ok_or_else(|| format!("{}: no vmlinuz after extraction", root.display()))
}

/// A static busybox for `arch` (bench-boot's reference init): the host's /bin/busybox on
/// x86_64 (Debian's busybox-static), otherwise Debian's busybox-static for the arch from the
/// same private apt tree as the kernels (bookworm; trixie for riscv64), cached as
/// `<cache>/busybox/<arch>/busybox`.
pub fn busybox(cache: &Path, arch: Arch) -> Result<PathBuf, String> {
    let host = Path::new("/bin/busybox");
    if arch == Arch::X86_64 && host.is_file() {
        return Ok(host.to_path_buf());
    }
    let dir = cache.join("busybox").join(arch.name());
    let bin = dir.join("busybox");
    if bin.is_file() {
        return Ok(bin);
    }
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let apt = Apt::new(cache)?;
    eprintln!("busybox {arch}: downloading busybox-static:{}", arch.deb_arch());
    apt.update()?;
    let dl = dir.join("download");
    let deb = apt.download(&format!("busybox-static:{}", arch.deb_arch()), &dl)?;
    // ./bin/busybox in bookworm, ./usr/bin/busybox in trixie (merged /usr).
    let script = "dpkg-deb --fsys-tarfile \"$0\" | tar -x -O --wildcards '*bin/busybox' > \"$1\"";
    let tmp = dir.join("busybox.tmp");
    cmd::output(Command::new("bash").args(["-o", "pipefail", "-c", script]).arg(&deb).arg(&tmp))?;
    fs::rename(&tmp, &bin).map_err(|e| io(&bin, e))?;
    fs::remove_dir_all(&dl).map_err(|e| io(&dl, e))?;
    Ok(bin)
}

/// Extracts `./boot/*` and, for x86_64, the two watchdog modules (into `<dest>/modules`).
fn extract(deb: &Path, dest: &Path, arch: Arch) -> Result<(), String> {
    let mut patterns = vec!["./boot/*"];
    if arch.has_watchdog() {
        patterns.extend(["*/drivers/watchdog/watchdog.ko*", "*/drivers/watchdog/i6300esb.ko*"]);
    }
    let script = "dpkg-deb --fsys-tarfile \"$0\" | tar -x -C \"$1\" --wildcards \"${@:2}\"";
    let mut c = Command::new("bash");
    c.args(["-o", "pipefail", "-c", script]).arg(deb).arg(dest).args(&patterns);
    cmd::output(&mut c)?;
    if arch.has_watchdog() {
        let mods = dest.join("modules");
        fs::create_dir_all(&mods).map_err(|e| format!("{}: {e}", mods.display()))?;
        for name in ["watchdog.ko", "i6300esb.ko"] {
            let found = walk(dest).into_iter().find(|p| p.file_name().is_some_and(|n| n == name));
            let src = found.ok_or_else(|| {
                format!(
                    "{}: no {name} (uncompressed) in the package; finit_module needs it plain",
                    deb.display()
                )
            })?;
            fs::copy(&src, mods.join(name)).map_err(|e| format!("{}: {e}", src.display()))?;
        }
        for top in ["lib", "usr"] {
            let _ = fs::remove_dir_all(dest.join(top));
        }
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources() {
        let t = "# c\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian-security bookworm-security main\n\
                 deb [ arch=amd64 ] http://m.example/debian/ bookworm main\n";
        assert_eq!(mirror_one_line(t).as_deref(), Some("http://m.example/debian"));
    }

    #[test]
    fn deb822_sources() {
        let t = "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n\
                 Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_deb822(t).as_deref(), Some("http://deb.example/debian"));
        assert_eq!(mirror_deb822("Types: deb-src\nURIs: http://x/debian\nSuites: bookworm\n"), None);
    }
}
