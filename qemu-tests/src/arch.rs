//! The four architectures: how to build for them, which Debian kernel they boot, and how QEMU
//! runs them (docs/design.md §9 has the measurements behind each choice).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "aarch64")]
    Aarch64,
    #[value(name = "armv7")]
    Armv7,
    #[value(name = "riscv64")]
    Riscv64,
}

pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::Aarch64, Arch::Armv7, Arch::Riscv64];

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7 => "armv7",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// Rust target of the static no-libc binaries (no libc is linked, so gnu vs musl does not
    /// matter; see docs/design.md §7 for why these four).
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
            Arch::Armv7 => "armv7-unknown-linux-gnueabihf",
            Arch::Riscv64 => "riscv64gc-unknown-linux-gnu",
        }
    }

    /// The launcher's name of the arch, for `compile --arch` (seccomp profiles).
    pub fn launcher_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7 => "arm",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// Debian architecture of the kernel package.
    pub fn deb_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::Armv7 => "armhf",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The kernel meta-package; its Depends names the versioned image package of the day.
    /// armv7: the LPAE flavour, the one QEMU's `virt` board with a Cortex-A15 boots.
    pub fn kernel_meta(self) -> &'static str {
        match self {
            Arch::X86_64 => "linux-image-amd64",
            Arch::Aarch64 => "linux-image-arm64",
            Arch::Armv7 => "linux-image-armmp-lpae",
            Arch::Riscv64 => "linux-image-riscv64",
        }
    }

    /// The QEMU system emulator and the Debian package that ships it.
    pub fn qemu(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
            Arch::Aarch64 => ("qemu-system-aarch64", "qemu-system-arm"),
            Arch::Armv7 => ("qemu-system-arm", "qemu-system-arm"),
            Arch::Riscv64 => ("qemu-system-riscv64", "qemu-system-misc"),
        }
    }

    /// Machine options. q35 rather than microvm: microvm hung silently 3 times in 52 boots
    /// here (no HPET/PM timer, TSC calibration fails under load).
    pub fn machine_args(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &["-machine", "q35", "-device", "i6300esb"],
            Arch::Aarch64 => &["-machine", "virt", "-cpu", "cortex-a57"],
            Arch::Armv7 => &["-machine", "virt", "-cpu", "cortex-a15"],
            Arch::Riscv64 => &["-machine", "virt", "-bios", "default"],
        }
    }

    /// The serial console device name in the guest.
    pub fn console(self) -> &'static str {
        match self {
            Arch::X86_64 | Arch::Riscv64 => "ttyS0",
            Arch::Aarch64 | Arch::Armv7 => "ttyAMA0",
        }
    }

    /// Whether the image carries the i6300esb watchdog modules and the test uses them.
    pub fn has_watchdog(self) -> bool {
        self == Arch::X86_64
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
