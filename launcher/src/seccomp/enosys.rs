//! runc 1.1's -ENOSYS stub (libcontainer/seccomp/patchbpf), rebuilt so that a profile gives
//! the same program through dmz as through runc 1.1.5.
//!
//! The problem it solves: a syscall newer than the profile is not in it, so it gets the
//! default action, typically EPERM; but programs probe new syscalls and fall back to older ones
//! only on ENOSYS (glibc's clone3 → clone, for example). So runc puts a stub in front of
//! libseccomp's program: per architecture listed in the profile's `architectures`, a syscall
//! number above the largest one the profile names gets ENOSYS; everything else falls through
//! to the filter.
//!
//! Behaviour kept exactly as runc 1.1.5 has it, quirks included (docs/seccomp.md):
//! - Only the architectures listed in `architectures` get a section. A profile without that
//!   list gets a 4-instruction stub that changes nothing (later runc versions always add the
//!   target architecture).
//! - The largest number counts every rule's names, whatever the rule's action.
//! - No stub when the default action is ALLOW, LOG or TRACE.
//! - x86_64 and x32 share one audit arch and are told apart by bit 30 of the number.
//! - Jumps longer than 255 instructions become `ja` (32-bit) jumps.
//!
//! runc walks Go maps here, so its section order varies from run to run; this takes the
//! order of `architectures`. The result means the same and has the same length.

use super::arch::{audit_of, AUDIT_ARCH_X86_64};
use super::bpf::{Insn, RET_ERRNO};
use libseccomp::{ScmpArch, ScmpSyscall};

/// `SCMP_ACT_ERRNO(ENOSYS)`.
const RET_ENOSYS: u32 = RET_ERRNO | 38;
/// x32 syscall numbers carry this bit (`__X32_SYSCALL_BIT`).
const X32_BIT: u32 = 1 << 30;
/// s390's setup(2), which the kernel uses to multiplex syscall numbers above 255.
const S390_MULTIPLEX_NR: u32 = 0;

/// Per audit arch, in order of first appearance: the largest syscall number the profile
/// names, per libseccomp architecture.
type Groups = Vec<(u32, Vec<(ScmpArch, u32)>)>;

/// The stub for a profile whose `architectures` are `arches` and whose rules name `names`.
pub fn stub(arches: &[ScmpArch], names: &[&str]) -> Result<Vec<Insn>, String> {
    assemble(&largest_numbers(arches, names)?)
}

fn largest_numbers(arches: &[ScmpArch], names: &[&str]) -> Result<Groups, String> {
    let mut groups: Groups = Vec::new();
    for &arch in arches {
        let audit = audit_of(arch).ok_or_else(|| format!("no audit architecture for {arch:?}"))?;
        let gi = match groups.iter().position(|g| g.0 == audit) {
            Some(i) => i,
            None => {
                groups.push((audit, Vec::new()));
                groups.len() - 1
            }
        };
        if groups[gi].1.iter().any(|(a, _)| *a == arch) {
            continue;
        }
        let largest = names
            .iter()
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .map(i32::from)
            .max()
            .unwrap_or(0);
        // runc skips an architecture none of the names exists on (its group stays, empty).
        if largest > 0 {
            groups[gi].1.push((arch, largest as u32));
        }
    }
    Ok(groups)
}

fn assemble(groups: &Groups) -> Result<Vec<Insn>, String> {
    // Built back to front: jumps are counted from the end, which is where the filter starts.
    let mut tail = vec![
        Insn::ja(1),           // fall-through: into the filter
        Insn::ret(RET_ENOSYS), // jumped to: ENOSYS
    ];
    let mut starts: Vec<(u32, usize)> = Vec::new();
    for (audit, maxes) in groups {
        let to_enosys = tail.len() as u32 - 1;
        let to_filter = to_enosys + 1;
        let mut section = vec![Insn::ld_abs(0)]; // the syscall number
        match maxes[..] {
            [] => continue,
            [(arch, nr)] => {
                if matches!(arch, ScmpArch::S390 | ScmpArch::S390X) {
                    // An unknown large number arrives as setup(2): ENOSYS for it.
                    section.extend([Insn::jeq(S390_MULTIPLEX_NR, 0, 1), Insn::ret(RET_ENOSYS)]);
                }
                let mut check = if to_enosys < 255 {
                    vec![Insn::jgt(nr, (to_enosys + 1) as u8, 0), Insn::ja(to_filter)]
                } else {
                    vec![Insn::jgt(nr, 0, 1), Insn::ja(to_enosys + 1), Insn::ja(to_filter)]
                };
                if *audit == AUDIT_ARCH_X86_64 {
                    // Skip the check when the call is of the other ABI (x32 vs x86_64).
                    let skip = (check.len() - 1) as u8;
                    let mode = match arch {
                        ScmpArch::X8664 => Insn::jset(X32_BIT, skip, 0),
                        ScmpArch::X32 => Insn::jset(X32_BIT, 0, skip),
                        other => return Err(format!("unexpected architecture {other:?} on x86_64")),
                    };
                    check.insert(0, mode);
                }
                section.extend(check);
            }
            [(a1, n1), (a2, n2)] => {
                let (x86_64, x32) = match (a1, a2) {
                    (ScmpArch::X8664, ScmpArch::X32) => (n1, n2),
                    (ScmpArch::X32, ScmpArch::X8664) => (n2, n1),
                    _ => return Err(format!("architectures {a1:?} and {a2:?} share an audit arch")),
                };
                if to_enosys + 2 <= 255 {
                    section.extend([
                        Insn::jset(X32_BIT, 1, 0),
                        Insn::jgt(x86_64, (to_enosys + 2) as u8, 1),
                        Insn::jgt(x32, (to_enosys + 1) as u8, 0),
                        Insn::ja(to_filter),
                    ]);
                } else {
                    section.extend([
                        Insn::jset(X32_BIT, 1, 0),
                        Insn::jgt(x86_64, 1, 2),
                        Insn::jgt(x32, 0, 1),
                        Insn::ja(to_enosys + 1),
                        Insn::ja(to_filter),
                    ]);
                }
            }
            _ => return Err(format!("more than two architectures share audit arch {audit:#x}")),
        }
        section.extend(tail);
        tail = section;
        starts.push((*audit, tail.len()));
    }
    // Any other architecture goes straight to the filter (whose bad-arch action applies).
    tail.insert(0, Insn::ja(tail.len() as u32));
    for (audit, _) in groups {
        // A group without a section has no start: runc's jump then lands on the filter.
        let start = starts.iter().find(|s| s.0 == *audit).map_or(0, |s| s.1);
        let jump = (tail.len() - start) as u32;
        if jump <= 255 {
            tail.insert(0, Insn::jeq(*audit, jump as u8, 0));
        } else {
            tail.splice(0..0, [Insn::jeq(*audit, 0, 1), Insn::ja(jump)]);
        }
    }
    tail.insert(0, Insn::ld_abs(4)); // the architecture
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::super::arch::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386};
    use super::super::bpf::{run, validate, Data, RET_ALLOW};
    use super::*;

    /// The stub followed by a "filter" that allows everything.
    fn with_filter(stub: Vec<Insn>) -> Vec<Insn> {
        let mut p = stub;
        p.push(Insn::ret(RET_ALLOW));
        validate(&p).unwrap();
        p
    }

    fn verdict(p: &[Insn], arch: u32, nr: u32) -> u32 {
        run(p, &Data { nr: nr as i32, arch, ..Default::default() })
    }

    #[test]
    fn without_architectures_it_changes_nothing() {
        let s = stub(&[], &["read", "write"]).unwrap();
        assert_eq!(s, [Insn::ld_abs(4), Insn::ja(2), Insn::ja(1), Insn::ret(RET_ENOSYS)]);
        let p = with_filter(s);
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 9999), RET_ALLOW);
    }

    #[test]
    fn docker_x86_64_arches() {
        let names = ["read", "write", "futex_waitv", "openat2"];
        let s = stub(&[ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32], &names).unwrap();
        let p = with_filter(s);
        // futex_waitv is the largest: 449 on x86_64, 449 + x32 bit on x32, 449 on i386.
        for (arch, nr, want) in [
            (AUDIT_ARCH_X86_64, 449, RET_ALLOW),
            (AUDIT_ARCH_X86_64, 450, RET_ENOSYS),
            (AUDIT_ARCH_X86_64, 0x4000_0000 | 449, RET_ALLOW),
            (AUDIT_ARCH_X86_64, 0x4000_0000 | 450, RET_ENOSYS),
            (AUDIT_ARCH_I386, 449, RET_ALLOW),
            (AUDIT_ARCH_I386, 1000, RET_ENOSYS),
            (AUDIT_ARCH_AARCH64, 1000, RET_ALLOW),
        ] {
            assert_eq!(verdict(&p, arch, nr), want, "arch {arch:#x} nr {nr:#x}");
        }
    }

    #[test]
    fn long_jumps_keep_their_meaning() {
        // 70 made-up audit arches make the stub longer than 255 instructions, so both the
        // arch dispatch and the number checks need 32-bit `ja` jumps.
        let mut groups: Groups = (1..=70).map(|a| (a, vec![(ScmpArch::Aarch64, 100 + a)])).collect();
        groups.push((AUDIT_ARCH_X86_64, vec![(ScmpArch::X8664, 300), (ScmpArch::X32, 0x4000_0010)]));
        groups.push((AUDIT_ARCH_I386, vec![]));
        let s = assemble(&groups).unwrap();
        assert!(s.len() > 255, "{}", s.len());
        let p = with_filter(s);
        for a in 1..=70u32 {
            assert_eq!(verdict(&p, a, 100 + a), RET_ALLOW, "arch {a}");
            assert_eq!(verdict(&p, a, 101 + a), RET_ENOSYS, "arch {a}");
        }
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 300), RET_ALLOW);
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 301), RET_ENOSYS);
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 0x4000_0010), RET_ALLOW);
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 0x4000_0011), RET_ENOSYS);
        assert_eq!(verdict(&p, AUDIT_ARCH_I386, 99_999), RET_ALLOW);
        assert_eq!(verdict(&p, 0xdead, 99_999), RET_ALLOW);
    }

    #[test]
    fn private_and_x32_numbers() {
        let names = ["read", "set_tls", "riscv_flush_icache", "arch_prctl"];
        let arches = [ScmpArch::Arm, ScmpArch::Aarch64, ScmpArch::Riscv64, ScmpArch::X32, ScmpArch::X86];
        let p = with_filter(stub(&arches, &names).unwrap());
        // ARM's largest is the private set_tls (0xf0005).
        assert_eq!(verdict(&p, 0x4000_0028, 0xf0005), RET_ALLOW);
        assert_eq!(verdict(&p, 0x4000_0028, 0xf0006), RET_ENOSYS);
        // x32 only: x86_64 numbers (bit 30 clear) are not checked.
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 100_000), RET_ALLOW);
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 0x4000_0000 | 159), RET_ENOSYS);
        // > arch_prctl(158)
    }

    #[test]
    fn an_arch_without_any_named_syscall_jumps_to_the_filter() {
        // arch_prctl exists on neither arm nor aarch64.
        let p = with_filter(stub(&[ScmpArch::Aarch64, ScmpArch::Arm], &["arch_prctl"]).unwrap());
        assert_eq!(verdict(&p, AUDIT_ARCH_AARCH64, 5000), RET_ALLOW);
    }
}
