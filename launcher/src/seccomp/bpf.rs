//! Classic BPF as seccomp uses it: the instruction type, its byte encoding, a structural check
//! (what the kernel's `bpf_check_classic` + `seccomp_check_filter` refuse), and an interpreter
//! over `struct seccomp_data`, so the launcher can tell what a compiled filter does to a
//! syscall before dmz installs it.
//!
//! References: Documentation/networking/filter.rst (classic BPF), seccomp(2) (the data and
//! return values), include/uapi/linux/filter.h and bpf_common.h (the opcode bits).

// Opcode bits (include/uapi/linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const K: u16 = 0x00;
const X: u16 = 0x08;
const A: u16 = 0x10;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
const TAX: u16 = 0x00;
const TXA: u16 = 0x80;

/// `BPF_MAXINSNS`: the kernel refuses longer programs.
pub const MAX_INSNS: usize = 4096;
/// `BPF_MEMWORDS`: scratch memory cells.
const MEMWORDS: usize = 16;
/// `sizeof(struct seccomp_data)`.
const DATA_LEN: u32 = 64;

// Return values (include/uapi/linux/seccomp.h).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ACTION_FULL`: the action part of a return value; the rest is data.
pub const RET_ACTION_FULL: u32 = 0xffff_0000;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    /// `ld [off]`: a 32-bit word of `struct seccomp_data`.
    pub const fn ld_abs(off: u32) -> Insn {
        Insn { code: LD | W | ABS, jt: 0, jf: 0, k: off }
    }
    /// `ja +k`.
    pub const fn ja(k: u32) -> Insn {
        Insn { code: JMP | JA, jt: 0, jf: 0, k }
    }
    /// `jeq #k, +jt, +jf`.
    pub const fn jeq(k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code: JMP | JEQ | K, jt, jf, k }
    }
    /// `jgt #k, +jt, +jf` (unsigned).
    pub const fn jgt(k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code: JMP | JGT | K, jt, jf, k }
    }
    /// `jset #k, +jt, +jf`: jt if `A & k != 0`.
    pub const fn jset(k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code: JMP | JSET | K, jt, jf, k }
    }
    /// `ret #k`.
    pub const fn ret(k: u32) -> Insn {
        Insn { code: RET | K, jt: 0, jf: 0, k }
    }

    /// The kernel's byte layout (u16 code, u8 jt, u8 jf, u32 k) in little-endian order: every
    /// architecture dmzkit targets is little-endian.
    pub fn to_bytes(self) -> [u8; 8] {
        let c = self.code.to_le_bytes();
        let k = self.k.to_le_bytes();
        [c[0], c[1], self.jt, self.jf, k[0], k[1], k[2], k[3]]
    }

    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: u16::from_le_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// Encodes a program as dmz's config stores it (`struct sock_filter[]`).
pub fn encode(prog: &[Insn]) -> Vec<u8> {
    prog.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Decodes `struct sock_filter[]`; None if the length is not a multiple of 8.
pub fn decode(bytes: &[u8]) -> Option<Vec<Insn>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    Some(bytes.chunks_exact(8).map(|c| Insn::from_bytes(c.try_into().expect("8 bytes"))).collect())
}

/// Offset of `seccomp_data.arch` (after the u32 `nr`).
const ARCH_OFFSET: u32 = 4;

/// The `AUDIT_ARCH_*` values the program compares `seccomp_data.arch` with (`ld [4]`, then
/// `jeq #k`), in order of first appearance: the architectures it was compiled for. Empty for
/// a filter that never looks at the architecture.
pub fn arch_tests(prog: &[Insn]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut a_is_arch = false;
    for i in prog {
        match i.code & 0x07 {
            LD => a_is_arch = i.code == LD | W | ABS && i.k == ARCH_OFFSET,
            ALU => a_is_arch = false,
            MISC if i.code == MISC | TXA => a_is_arch = false,
            JMP if a_is_arch && i.code == JMP | JEQ | K && !out.contains(&i.k) => out.push(i.k),
            _ => {}
        }
    }
    out
}

/// What the kernel checks when the filter is installed: 1..=4096 instructions, only the
/// opcodes seccomp allows, loads inside `struct seccomp_data` and 32-bit aligned, scratch
/// cells in range, no division by a zero constant, every jump inside the program, and a
/// `ret` last. Err names the first offending instruction.
pub fn validate(prog: &[Insn]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(format!("{} instructions (1..={MAX_INSNS} allowed)", prog.len()));
    }
    for (pc, i) in prog.iter().enumerate() {
        let bad = |why: &str| Err(format!("instruction {pc} ({i:?}): {why}"));
        let rest = (prog.len() - pc - 1) as u64;
        match i.code {
            c if c == LD | W | ABS => {
                if i.k >= DATA_LEN || !i.k.is_multiple_of(4) {
                    return bad("load outside struct seccomp_data or unaligned");
                }
            }
            c if c == LD | W | LEN || c == LDX | W | LEN || c == LD | IMM || c == LDX | IMM => {}
            c if c == LD | MEM || c == LDX | MEM || c == ST || c == STX => {
                if i.k as usize >= MEMWORDS {
                    return bad("scratch cell out of range");
                }
            }
            c if c & 0x07 == ALU => {
                let op = c & 0xf0;
                if c & X == 0 && op == 0x30 && i.k == 0 {
                    return bad("division by zero");
                }
                // add sub mul div or and lsh rsh neg xor (no mod: seccomp refuses it)
                if !matches!(op, 0x00 | 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0x80 | 0xa0) {
                    return bad("ALU operation not allowed in seccomp filters");
                }
            }
            c if c == JMP | JA => {
                if i.k as u64 >= rest {
                    return bad("jump past the end");
                }
            }
            c if c & 0x07 == JMP => {
                if !matches!(c & 0xf0, JEQ | JGT | JGE | JSET) {
                    return bad("unknown jump");
                }
                if i.jt as u64 >= rest || i.jf as u64 >= rest {
                    return bad("jump past the end");
                }
            }
            c if c == RET | K || c == RET | A => {}
            c if c == MISC | TAX || c == MISC | TXA => {}
            _ => return bad("opcode not allowed in seccomp filters"),
        }
    }
    match prog.last() {
        Some(i) if i.code & 0x07 == RET => Ok(()),
        _ => Err("the last instruction is not a return".into()),
    }
}

/// `struct seccomp_data` as a filter sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Data {
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl Data {
    /// The 32-bit word at byte `off` (little-endian layout).
    fn word(&self, off: u32) -> u32 {
        let off = off as usize;
        let mut bytes = [0u8; DATA_LEN as usize];
        bytes[0..4].copy_from_slice(&self.nr.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.arch.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.ip.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes"))
    }
}

/// Runs a program that [`validate`] accepted on `data`; returns the filter's return value.
pub fn run(prog: &[Insn], data: &Data) -> u32 {
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; MEMWORDS]);
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let src = if i.code & X != 0 { x } else { i.k };
        match i.code & 0x07 {
            LD | LDX => {
                let v = match i.code & 0xe0 {
                    ABS => data.word(i.k),
                    MEM => mem[i.k as usize],
                    LEN => DATA_LEN,
                    _ => i.k,
                };
                if i.code & 0x07 == LD {
                    a = v
                } else {
                    x = v
                }
            }
            ST => mem[i.k as usize] = a,
            STX => mem[i.k as usize] = x,
            ALU => {
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).unwrap_or(0),
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    _ => a ^ src,
                }
            }
            JMP => {
                let skip = match i.code & 0xf0 {
                    JA => i.k as usize,
                    op => {
                        let taken = match op {
                            JEQ => a == src,
                            JGT => a > src,
                            JGE => a >= src,
                            _ => a & src != 0,
                        };
                        if taken {
                            i.jt as usize
                        } else {
                            i.jf as usize
                        }
                    }
                };
                pc += skip;
            }
            RET => return if i.code & 0x18 == A { a } else { i.k },
            _ => {
                if i.code & 0xf8 == TXA {
                    a = x
                } else {
                    x = a
                }
            }
        }
    }
}

/// A filter's return value in the words of the OCI spec, e.g. `SCMP_ACT_ERRNO(1)`.
pub fn verdict_name(ret: u32) -> String {
    let data = ret & !RET_ACTION_FULL;
    match ret & RET_ACTION_FULL {
        RET_KILL_PROCESS => "SCMP_ACT_KILL_PROCESS".into(),
        RET_KILL_THREAD => "SCMP_ACT_KILL_THREAD".into(),
        RET_TRAP => "SCMP_ACT_TRAP".into(),
        RET_ERRNO => format!("SCMP_ACT_ERRNO({data})"),
        RET_USER_NOTIF => "SCMP_ACT_NOTIFY".into(),
        RET_TRACE => format!("SCMP_ACT_TRACE({data})"),
        RET_LOG => "SCMP_ACT_LOG".into(),
        RET_ALLOW => "SCMP_ACT_ALLOW".into(),
        _ => format!("{ret:#010x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only comparisons of the loaded arch count; a later load of the syscall number ends them.
    #[test]
    fn arch_tests_are_the_jeqs_on_the_arch_word() {
        let prog = [
            Insn::ld_abs(4),
            Insn::jeq(0xc000_003e, 2, 0), // x86_64
            Insn::jeq(0x4000_0003, 1, 0), // i386
            Insn::ret(RET_KILL_PROCESS),
            Insn::ld_abs(0),
            Insn::jeq(0xc000_00b7, 0, 1), // a syscall number that happens to equal aarch64's
            Insn::ret(RET_ERRNO | 1),
            Insn::jeq(0xc000_003e, 0, 1), // still the number, and a repeat
            Insn::ret(RET_ALLOW),
            Insn::ret(RET_ALLOW),
        ];
        assert_eq!(arch_tests(&prog), [0xc000_003e, 0x4000_0003]);
        assert_eq!(arch_tests(&prog[4..]), Vec::<u32>::new());
    }

    #[test]
    fn bytes_round_trip() {
        let p =
            [Insn::ld_abs(4), Insn::jeq(0xc000_003e, 1, 0), Insn::ret(RET_KILL_THREAD), Insn::ret(RET_ALLOW)];
        let b = encode(&p);
        assert_eq!(&b[..8], &[0x20, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(&b[8..16], &[0x15, 0, 1, 0, 0x3e, 0, 0, 0xc0]);
        assert_eq!(decode(&b).unwrap(), p);
        assert!(decode(&b[1..]).is_none());
    }

    #[test]
    fn runs_an_arch_check() {
        let p = [
            Insn::ld_abs(4),
            Insn::jeq(0xc000_003e, 1, 0),
            Insn::ret(RET_KILL_PROCESS),
            Insn::ld_abs(0),
            Insn::jgt(100, 0, 1),
            Insn::ret(RET_ERRNO | 38),
            Insn::ld_abs(16), // low word of args[0]
            Insn::jset(0x10, 1, 0),
            Insn::ret(RET_ALLOW),
            Insn::ret(RET_ERRNO | 1),
        ];
        validate(&p).unwrap();
        let d = |nr, arch, a0| Data { nr, arch, args: [a0, 0, 0, 0, 0, 0], ..Default::default() };
        assert_eq!(run(&p, &d(1, 0x4000_0003, 0)), RET_KILL_PROCESS);
        assert_eq!(run(&p, &d(101, 0xc000_003e, 0)), RET_ERRNO | 38);
        assert_eq!(run(&p, &d(100, 0xc000_003e, 0)), RET_ALLOW);
        assert_eq!(run(&p, &d(100, 0xc000_003e, 0x1_0000_0010)), RET_ERRNO | 1);
        assert_eq!(verdict_name(RET_ERRNO | 38), "SCMP_ACT_ERRNO(38)");
    }

    #[test]
    fn validate_refuses_what_the_kernel_refuses() {
        let ok = Insn::ret(RET_ALLOW);
        assert!(validate(&[]).is_err());
        assert!(validate(&vec![ok; MAX_INSNS]).is_ok());
        assert!(validate(&vec![ok; MAX_INSNS + 1]).is_err());
        assert!(validate(&[Insn::ld_abs(64), ok]).is_err(), "load past seccomp_data");
        assert!(validate(&[Insn::ld_abs(2), ok]).is_err(), "unaligned load");
        assert!(validate(&[Insn::ja(1), ok]).is_err(), "jump past the end");
        assert!(validate(&[Insn::jeq(0, 0, 1), ok]).is_err(), "jump past the end");
        assert!(validate(&[Insn::ld_abs(0)]).is_err(), "no ret at the end");
        assert!(validate(&[Insn { code: 0x30, jt: 0, jf: 0, k: 0 }, ok]).is_err(), "packet byte load");
    }
}
