//! The architectures dmz runs on, in the spellings each party uses: the `--arch` flag, the
//! OCI spec and libseccomp (`SCMP_ARCH_*`), Docker's profile conditions (libseccomp-golang's
//! arch strings), and the kernel (`AUDIT_ARCH_*`, what a filter sees in `seccomp_data.arch`).

use libseccomp::ScmpArch;

/// A target architecture of dmz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
    /// 32-bit ARM (armv7, EABI).
    Arm,
    Riscv64,
    /// 32-bit x86 (i686).
    X86,
}

// include/uapi/linux/audit.h: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
pub const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::X86_64, Arch::Aarch64, Arch::Arm, Arch::Riscv64, Arch::X86];

    /// The name used in messages and accepted by `--arch` (uname -m style).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
            Arch::Riscv64 => "riscv64",
            Arch::X86 => "x86",
        }
    }

    /// Parses `--arch`: uname -m, Rust target and Go/Docker spellings.
    pub fn parse(s: &str) -> Result<Arch, String> {
        Ok(match s {
            "x86_64" | "amd64" => Arch::X86_64,
            "aarch64" | "arm64" => Arch::Aarch64,
            "arm" | "armv7" | "armv7l" | "armhf" => Arch::Arm,
            "riscv64" | "riscv64gc" => Arch::Riscv64,
            "x86" | "i386" | "i686" | "386" => Arch::X86,
            _ => {
                return Err(format!(
                    "unknown architecture {s:?} (one of x86_64, aarch64, arm, riscv64, x86; \
                     also amd64, arm64, armv7, i686)"
                ))
            }
        })
    }

    /// The architecture this launcher was built for (and whose dmz it runs).
    pub fn native() -> Arch {
        if cfg!(target_arch = "x86_64") {
            Arch::X86_64
        } else if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else if cfg!(target_arch = "arm") {
            Arch::Arm
        } else if cfg!(target_arch = "riscv64") {
            Arch::Riscv64
        } else if cfg!(target_arch = "x86") {
            Arch::X86
        } else {
            panic!("the launcher is built for an architecture dmz does not support")
        }
    }

    pub fn scmp(self) -> ScmpArch {
        match self {
            Arch::X86_64 => ScmpArch::X8664,
            Arch::Aarch64 => ScmpArch::Aarch64,
            Arch::Arm => ScmpArch::Arm,
            Arch::Riscv64 => ScmpArch::Riscv64,
            Arch::X86 => ScmpArch::X86,
        }
    }

    /// `AUDIT_ARCH_*`: what the kernel puts in `seccomp_data.arch` for this ABI.
    pub fn audit(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
            Arch::Arm => AUDIT_ARCH_ARM,
            Arch::Riscv64 => AUDIT_ARCH_RISCV64,
            Arch::X86 => AUDIT_ARCH_I386,
        }
    }

    /// Name of the architecture whose `AUDIT_ARCH_*` is `audit`, or the number in hex.
    pub fn audit_name(audit: u32) -> String {
        Arch::from_audit(audit).map_or(format!("audit arch {audit:#x}"), |a| a.name().to_string())
    }

    /// The architecture whose `AUDIT_ARCH_*` is `audit` (x86_64 for x32's too).
    pub fn from_audit(audit: u32) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.audit() == audit)
    }

    /// The arch string Docker's profile conditions (`includes.arches`) use: libseccomp-golang's
    /// name of the architecture Docker runs on (Go's `runtime.GOARCH`, mapped).
    pub fn docker(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::Arm => "arm",
            Arch::Riscv64 => "riscv64",
            Arch::X86 => "x86",
        }
    }

    /// The OCI (`SCMP_ARCH_*`) name of the architecture, which Docker looks up in `archMap`.
    pub fn oci(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
            Arch::Riscv64 => "SCMP_ARCH_RISCV64",
            Arch::X86 => "SCMP_ARCH_X86",
        }
    }
}

/// `AUDIT_ARCH_*` of any architecture a filter may name in `architectures`; x32 shares x86_64's
/// (its syscall numbers carry bit 30 instead). None for those the kernel has no seccomp for.
pub fn audit_of(a: ScmpArch) -> Option<u32> {
    // include/uapi/linux/audit.h and elf-em.h.
    const LE: u32 = 0x4000_0000;
    const B64: u32 = 0x8000_0000;
    Some(match a {
        ScmpArch::X86 => AUDIT_ARCH_I386,
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::Arm => AUDIT_ARCH_ARM,
        ScmpArch::Aarch64 => AUDIT_ARCH_AARCH64,
        ScmpArch::Riscv64 => AUDIT_ARCH_RISCV64,
        ScmpArch::Mips => 8,
        ScmpArch::Mipsel => 8 | LE,
        ScmpArch::Mips64 => 8 | B64,
        ScmpArch::Mips64N32 => 8 | B64 | 0x2000_0000,
        ScmpArch::Mipsel64 => 8 | B64 | LE,
        ScmpArch::Mipsel64N32 => 8 | B64 | LE | 0x2000_0000,
        ScmpArch::Ppc => 20,
        ScmpArch::Ppc64 => 21 | B64,
        ScmpArch::Ppc64Le => 21 | B64 | LE,
        ScmpArch::S390 => 22,
        ScmpArch::S390X => 22 | B64,
        ScmpArch::Parisc => 15,
        ScmpArch::Parisc64 => 15 | B64,
        _ => return None,
    })
}

/// A kernel release as Docker compares it for `minKernel`: "kernel.major", the rest ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion(pub u64, pub u64);

impl KernelVersion {
    /// Parses the start of a release string ("6.1.0-18-amd64" → 6.1), as Docker does with
    /// `fmt.Sscanf(release, "%d.%d")`.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.trim().splitn(2, '.');
        let major = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some(KernelVersion(major, digits.parse().ok()?))
    }

    /// The running kernel (`uname -r`), which is what Docker evaluates `minKernel` against.
    pub fn running() -> Result<KernelVersion, String> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| format!("cannot read the kernel release: /proc/sys/kernel/osrelease: {e}"))?;
        KernelVersion::from_release(&release)
            .ok_or_else(|| format!("cannot parse the kernel release {:?}", release.trim()))
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// What a filter is compiled for: the architecture whose dmz installs it, and the kernel
/// Docker-style `minKernel` conditions are evaluated against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub arch: Arch,
    pub kernel: KernelVersion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_arches_match_the_kernel_header() {
        // Values from include/uapi/linux/audit.h, spelled out.
        assert_eq!(audit_of(ScmpArch::X86), Some(0x4000_0003));
        assert_eq!(audit_of(ScmpArch::X32), Some(0xc000_003e));
        assert_eq!(audit_of(ScmpArch::Aarch64), Some(0xc000_00b7));
        assert_eq!(audit_of(ScmpArch::Arm), Some(0x4000_0028));
        assert_eq!(audit_of(ScmpArch::Riscv64), Some(0xc000_00f3));
        assert_eq!(audit_of(ScmpArch::S390X), Some(0x8000_0016));
        assert_eq!(audit_of(ScmpArch::Ppc64Le), Some(0xc000_0015));
        assert_eq!(audit_of(ScmpArch::Mipsel64N32), Some(0xe000_0008));
        for a in Arch::ALL {
            assert_eq!(audit_of(a.scmp()), Some(a.audit()));
            assert_eq!(Arch::parse(a.name()), Ok(a));
            assert_eq!(a.oci().parse::<ScmpArch>().unwrap(), a.scmp());
        }
    }

    #[test]
    fn parses_arch_spellings() {
        assert_eq!(Arch::parse("amd64"), Ok(Arch::X86_64));
        assert_eq!(Arch::parse("arm64"), Ok(Arch::Aarch64));
        assert_eq!(Arch::parse("armv7"), Ok(Arch::Arm));
        assert_eq!(Arch::parse("i686"), Ok(Arch::X86));
        assert!(Arch::parse("sparc").unwrap_err().contains("unknown architecture \"sparc\""));
    }

    #[test]
    fn parses_kernel_releases_like_docker() {
        assert_eq!(KernelVersion::from_release("6.1.0-18-amd64\n"), Some(KernelVersion(6, 1)));
        assert_eq!(KernelVersion::from_release("3.12-1-amd64"), Some(KernelVersion(3, 12)));
        assert_eq!(KernelVersion::from_release("4.8"), Some(KernelVersion(4, 8)));
        assert_eq!(KernelVersion::from_release("6.18.44-fc"), Some(KernelVersion(6, 18)));
        assert_eq!(KernelVersion::from_release("6"), None);
        assert!(KernelVersion(4, 8) <= KernelVersion(4, 10));
        assert!(KernelVersion(5, 0) > KernelVersion(4, 20));
        assert!(KernelVersion::running().is_ok());
    }
}
