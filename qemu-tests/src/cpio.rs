//! A deterministic newc ("070701") cpio writer for initramfs images.
//!
//! Entries are written sorted by path (so a directory precedes its contents), with inode
//! numbers counted from 1, uid/gid 0 and mtime 0: the same inputs give the same bytes. Device
//! nodes are plain header fields, so `dev/console` needs neither root nor mknod.
//!
//! Format: `Documentation/driver-api/early-userspace/buffer-format.rst` in the kernel tree
//! and cpio(5): a 110-byte ASCII header, the NUL-terminated name padded to 4 bytes, the data
//! padded to 4 bytes; the archive ends with an entry named `TRAILER!!!`.

use std::collections::BTreeMap;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const S_IFLNK: u32 = 0o120000;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Dir,
    File(Vec<u8>),
    CharDev(u32, u32),
    Symlink(String),
}

/// An initramfs under construction: path (relative, no leading '/') → node.
#[derive(Default, Debug)]
pub struct Archive {
    entries: BTreeMap<String, (Node, u32)>,
}

impl Archive {
    /// Adds a directory (and its missing parents, mode 0755).
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.parents(path);
        self.entries.insert(clean(path), (Node::Dir, mode));
        self
    }

    /// Adds a regular file (and its missing parents).
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> &mut Self {
        self.parents(path);
        self.entries.insert(clean(path), (Node::File(data), mode));
        self
    }

    /// Adds a character device node.
    pub fn char_dev(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> &mut Self {
        self.parents(path);
        self.entries.insert(clean(path), (Node::CharDev(major, minor), mode));
        self
    }

    /// Adds a symbolic link to `target` (busybox's applets are links to it).
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.parents(path);
        self.entries.insert(clean(path), (Node::Symlink(target.to_string()), 0o777));
        self
    }

    fn parents(&mut self, path: &str) {
        let path = clean(path);
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let parent = &path[..at + i];
            self.entries.entry(parent.to_string()).or_insert((Node::Dir, 0o755));
            at += i + 1;
        }
    }

    /// The archive's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (path, (node, mode))) in self.entries.iter().enumerate() {
            let (kind, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match node {
                Node::Dir => (S_IFDIR, 2, &[], (0, 0)),
                Node::File(d) => (S_IFREG, 1, d, (0, 0)),
                Node::CharDev(ma, mi) => (S_IFCHR, 1, &[], (*ma, *mi)),
                Node::Symlink(t) => (S_IFLNK, 1, t.as_bytes(), (0, 0)),
            };
            entry(&mut out, path, ino as u32 + 1, kind | (mode & 0o7777), nlink, data, rdev);
        }
        entry(&mut out, "TRAILER!!!", 0, 0, 1, &[], (0, 0));
        out
    }
}

fn clean(path: &str) -> String {
    path.trim_start_matches('/').trim_end_matches('/').to_string()
}

fn entry(out: &mut Vec<u8>, name: &str, ino: u32, mode: u32, nlink: u32, data: &[u8], rdev: (u32, u32)) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1, // namesize, NUL included
        0,                     // check (unused by newc)
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_entry_and_layout() {
        let mut a = Archive::default();
        a.char_dev("/dev/console", 0o600, 5, 1).file("init", 0o755, b"abc".to_vec());
        let b = a.to_bytes();
        // dev (dir) first, then dev/console, then init, then the trailer.
        let text = String::from_utf8_lossy(&b);
        let dev = text.find("dev\0").unwrap();
        let console = text.find("dev/console\0").unwrap();
        let init = text.find("init\0").unwrap();
        assert!(dev < console && console < init && init < text.find("TRAILER!!!").unwrap());
        // Every header starts on a 4-byte boundary and the whole archive is padded.
        assert_eq!(b.len() % 4, 0);
        let hdr = &b[console - 110..console];
        assert_eq!(&hdr[..6], b"070701");
        // mode: character device 0600
        assert_eq!(&hdr[14..22], b"00002180");
        // rdevmajor 5, rdevminor 1
        assert_eq!(&hdr[78..86], b"00000005");
        assert_eq!(&hdr[86..94], b"00000001");
    }

    #[test]
    fn deterministic_regardless_of_insertion_order() {
        let mut a = Archive::default();
        a.file("bin/b", 0o755, vec![1]).file("bin/a", 0o755, vec![2, 3]);
        let mut b = Archive::default();
        b.file("bin/a", 0o755, vec![2, 3]).file("bin/b", 0o755, vec![1]);
        assert_eq!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn matches_gnu_cpio_listing() {
        // If GNU cpio is installed, it must list exactly our entries.
        if !crate::cmd::in_path("cpio") {
            return;
        }
        let mut a = Archive::default();
        a.char_dev("dev/console", 0o600, 5, 1).file("etc/x", 0o644, b"hello".to_vec()).dir("proc", 0o555);
        a.symlink("sbin/init", "/bin/busybox");
        let dir = std::env::temp_dir().join(format!("qemu-tests-cpio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.cpio");
        std::fs::write(&f, a.to_bytes()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cpio -it < {}", f.display()))
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            list.lines().collect::<Vec<_>>(),
            ["dev", "dev/console", "etc", "etc/x", "proc", "sbin", "sbin/init"]
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "mkdir {0}/x && cd {0}/x && {{ cpio -id --quiet < {1}; readlink sbin/init; }}",
                dir.display(),
                f.display()
            ))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "/bin/busybox");
    }
}
