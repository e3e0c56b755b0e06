//! qemu-tests: boots real Debian kernels on x86_64, aarch64, armv7 and riscv64 under QEMU with
//! dmzkit's binaries as PID 1 and reports what was checked from inside.

mod arch;
mod artifacts;
mod bench_boot;
mod cmd;
mod console;
mod cpio;
mod init_suite;
mod kernel;
mod report;
mod scenario;
mod setup;
mod suite;
mod systemd_image;
mod systemd_suite;
mod vm;

use arch::Arch;
use clap::{Parser, Subcommand};
use report::{boot_timing, indent, print_matrix, ArchRun};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "qemu-tests", about = "Boot dmzkit images on four architectures under QEMU")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// `--arch`: one of [`Arch`]'s names, or `all`.
#[derive(Clone, Debug)]
struct Arches(Vec<Arch>);

fn arch_sel(s: &str) -> Result<Arches, String> {
    if s == "all" {
        return Ok(Arches(arch::ALL.to_vec()));
    }
    <Arch as clap::ValueEnum>::from_str(s, false)
        .map(|a| Arches(vec![a]))
        .map_err(|_| format!("unknown arch {s:?} (x86_64, aarch64, armv7, riscv64 or all)"))
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing (QEMU system emulators), or say what is.
    Setup {
        #[arg(long, value_parser = arch_sel, default_value = "all")]
        arch: Arches,
    },
    /// Download (or show the cached) Debian kernels and print their versions.
    FetchKernels {
        #[arg(long, value_parser = arch_sel, default_value = "all")]
        arch: Arches,
        /// Re-resolve the meta-packages even when a kernel is cached.
        #[arg(long)]
        refresh: bool,
    },
    /// Build, boot every selected arch and suite, check from inside, report.
    Test {
        #[arg(long, value_parser = arch_sel, default_value = "all")]
        arch: Arches,
        #[command(flatten)]
        opts: BootOpts,
    },
    /// Install what is needed, build, boot one image and show what the sample service
    /// (uid 1000, no_new_privs, no ambient caps, through dmz) observes.
    Demo {
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
        #[arg(long, value_enum, default_value = "auto")]
        accel: AccelSel,
        /// Show the whole console.
        #[arg(long)]
        echo: bool,
    },
    /// Boot Debian bookworm with systemd as PID 1 running dmzkit's example and test units
    /// (image built with mmdebstrap once and cached), check from inside, report.
    Systemd {
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
        /// Use KVM instead of TCG.
        #[arg(long)]
        kvm: bool,
        /// Seconds the VM may run before it is killed and reported.
        #[arg(long, default_value_t = 900)]
        deadline: u64,
        /// Show every console line while the VM runs.
        #[arg(long)]
        echo: bool,
        /// Build the Debian base again even when it is cached.
        #[arg(long)]
        rebuild: bool,
    },
    /// /init → first service exec, dmzkit's init against busybox init on the same kernel and
    /// image (TCG), boots interleaved, timed inside the guest; medians and their ratio.
    BenchBoot {
        #[arg(long, value_parser = arch_sel, default_value = "x86_64")]
        arch: Arches,
        /// Boots of each init.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Static busybox for the image (default: /bin/busybox on x86_64, else Debian's
        /// busybox-static for the arch, downloaded into the kernel cache).
        #[arg(long)]
        busybox: Option<PathBuf>,
        /// Another build of dmzkit's init for the arch (e.g. of an earlier commit), booted
        /// in the same rounds: a before/after in one run.
        #[arg(long, value_name = "INIT")]
        baseline_init: Option<PathBuf>,
        /// Seconds one VM may run before it is killed and reported.
        #[arg(long, default_value_t = 120)]
        deadline: u64,
        /// dmzkit's init only, its measured service the last of a chain of N services, each
        /// started once the one before is ready (readiness on fd 3).
        #[arg(long, value_name = "N", default_value_t = 0)]
        chain: usize,
    },
    /// Write the initramfs for one arch (for flashing, or to boot by hand).
    Image {
        #[arg(long, value_enum)]
        arch: Arch,
        #[arg(long, value_enum, default_value = "init")]
        suite: SuiteSel,
        #[arg(short, long, value_name = "FILE.cpio")]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SuiteSel {
    /// The stand-in PID 1: kernel, image, dmz and probes without dmzkit's init.
    Smoke,
    /// dmzkit's init as PID 1 in system mode, services through the dmz transition.
    Init,
    /// dmzkit's init with the demo's one service (not part of `test`).
    Demo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AccelSel {
    /// KVM for x86_64 if a short probe boot shows it works, else TCG.
    Auto,
    Tcg,
    Kvm,
}

#[derive(clap::Args)]
struct BootOpts {
    /// Image(s) to boot.
    #[arg(long, value_enum, num_args = 1.., default_values = ["smoke", "init"])]
    suite: Vec<SuiteSel>,
    #[arg(long, value_enum, default_value = "auto")]
    accel: AccelSel,
    /// Seconds one VM may run before it is killed and reported.
    #[arg(long, default_value_t = 120)]
    deadline: u64,
    /// Show every console line while the VM runs.
    #[arg(long)]
    echo: bool,
    /// Re-resolve the kernel meta-packages even when kernels are cached.
    #[arg(long)]
    refresh: bool,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("qemu-tests: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Setup { arch } => {
            setup::ensure(&arch.0, true)?;
            println!("setup: everything needed is installed");
        }
        Cmd::FetchKernels { arch, refresh } => {
            let cache = kernel::cache_dir(&target_dir());
            for a in arch.0 {
                let k = kernel::get(&cache, a, refresh)?;
                println!("{a}: {} {} ({})", k.package, k.version, k.image.display());
            }
        }
        Cmd::Test { arch, opts } => return test(&arch.0, &opts),
        Cmd::Demo { arch, accel, echo } => return demo(arch, accel, echo),
        Cmd::Systemd { arch, kvm, deadline, echo, rebuild } => {
            let opts = systemd_suite::Opts { kvm, deadline: Duration::from_secs(deadline), echo, rebuild };
            return systemd_suite::run(arch, &opts);
        }
        Cmd::BenchBoot { arch, runs, busybox, baseline_init, deadline, chain } => {
            if baseline_init.is_some() && arch.0.len() != 1 {
                return Err("--baseline-init is one arch's build: give one --arch".into());
            }
            let deadline = Duration::from_secs(deadline);
            return bench_boot(&arch.0, runs.max(1), busybox, baseline_init, deadline, chain);
        }
        Cmd::Image { arch, suite, output } => {
            setup::ensure(&[], false)?;
            let root = workspace_root();
            let target = target_dir();
            let k = kernel::get(&kernel::cache_dir(&target), arch, false)?;
            let (_, art) = artifacts::build(&root, &target, &[arch])?.remove(0);
            let img = make_image(arch, suite, &art, &k, &work_dir(&target, arch))?;
            let bytes = img.archive.to_bytes();
            std::fs::write(&output, &bytes).map_err(|e| format!("{}: {e}", output.display()))?;
            println!("{}: {} bytes, {arch} {suite:?} image", output.display(), bytes.len());
            let initrd = std::fs::canonicalize(&output).unwrap_or(output);
            let spec = vm::Spec {
                arch,
                kernel: &k.boot,
                initrd: &initrd,
                accel: vm::Accel::Tcg,
                deadline: Duration::ZERO,
                append: img.append,
                echo: false,
            };
            println!("boot it with ({} {}):\n  {}", k.package, k.version, cmd::show(&vm::command(&spec)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench-boot`: per arch, `runs` rounds of one boot of each init (the order alternating by
/// round), then per init the median, p10 and p90 of /init → first service exec and the median
/// of kernel → /init, and the ratio of the medians.
fn bench_boot(
    arches: &[Arch],
    runs: usize,
    busybox: Option<PathBuf>,
    baseline: Option<PathBuf>,
    deadline: Duration,
    chain: usize,
) -> Result<ExitCode, String> {
    setup::ensure(arches, true)?;
    let root = workspace_root();
    let target = target_dir();
    let cache = kernel::cache_dir(&target);
    let built = artifacts::build(&root, &target, arches)?;
    let mut table = Vec::new();
    for (arch, art) in &built {
        let k = kernel::get(&cache, *arch, false)?;
        let bb = match &busybox {
            Some(p) => p.clone(),
            None => kernel::busybox(&cache, *arch)?,
        };
        let work = work_dir(&target, *arch).join("bench-boot");
        let initrd = work.join("bench-boot.cpio");
        let img = bench_boot::image(&root, art, &bb, baseline.as_deref(), &work, chain)?;
        std::fs::write(&initrd, img.to_bytes()).map_err(|e| format!("{}: {e}", initrd.display()))?;
        println!("bench-boot {arch}: {} {}, {runs} boots of each init, TCG", k.package, k.version);
        let n = if chain > 1 {
            1 // busybox init has no dependencies to chain
        } else if baseline.is_some() {
            3
        } else {
            2
        };
        let mut samples: Vec<Vec<bench_boot::Sample>> = vec![Vec::new(); n];
        for r in 0..runs {
            for j in 0..n {
                let i = (r + j) % n;
                let s = bench_boot::boot_once(*arch, &k.boot, &initrd, bench_boot::INITS[i].1, deadline)?;
                eprintln!(
                    "  round {} {}: /init→service {:.1} ms",
                    r + 1,
                    bench_boot::INITS[i].0,
                    s.init_to_service_us() as f64 / 1000.0
                );
                samples[i].push(s);
            }
        }
        let mut medians = vec![0f64; n];
        for (i, v) in samples.iter().enumerate() {
            let mut d: Vec<u64> = v.iter().map(|s| s.init_to_service_us()).collect();
            let mut kern: Vec<u64> = v.iter().map(|s| s.init_us).collect();
            d.sort_unstable();
            kern.sort_unstable();
            medians[i] = bench_boot::quantile(&d, 0.5);
            let name = match chain {
                0 | 1 => bench_boot::INITS[i].0.to_string(),
                _ => format!("{}, {chain}-service dependency chain", bench_boot::INITS[i].0),
            };
            table.push(format!(
                "| {arch} | {name} | {:.1} | {:.1} | {:.1} | {:.0} |",
                medians[i] / 1000.0,
                bench_boot::quantile(&d, 0.1) / 1000.0,
                bench_boot::quantile(&d, 0.9) / 1000.0,
                bench_boot::quantile(&kern, 0.5) / 1000.0
            ));
        }
        if n >= 2 {
            table.push(format!(
                "| {arch} | ratio dmzkit / busybox (medians) | **{:.2}** | | | |",
                medians[0] / medians[1].max(1.0)
            ));
        }
        if n == 3 {
            table.push(format!(
                "| {arch} | ratio dmzkit / baseline (medians) | **{:.2}** | | | |",
                medians[0] / medians[2].max(1.0)
            ));
        }
    }
    println!();
    println!("| arch | init | /init→first service, median ms | p10 | p90 | kernel→/init, median ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for row in table {
        println!("{row}");
    }
    Ok(ExitCode::SUCCESS)
}

fn work_dir(target: &Path, arch: Arch) -> PathBuf {
    target.join("qemu-work").join(arch.name())
}

fn make_image(
    arch: Arch,
    suite: SuiteSel,
    art: &artifacts::Artifacts,
    k: &kernel::Kernel,
    work: &Path,
) -> Result<suite::Image, String> {
    match suite {
        SuiteSel::Smoke => suite::smoke(arch, art, k, work),
        SuiteSel::Init => init_suite::image(arch, art, k, work),
        SuiteSel::Demo => init_suite::demo_image(arch, art, k, work),
    }
}

fn demo(arch: Arch, accel: AccelSel, echo: bool) -> Result<ExitCode, String> {
    setup::ensure(&[arch], true)?;
    let root = workspace_root();
    let target = target_dir();
    let k = kernel::get(&kernel::cache_dir(&target), arch, false)?;
    let (_, art) = artifacts::build(&root, &target, &[arch])?.remove(0);
    let work = work_dir(&target, arch);
    let initrd = work.join("demo.cpio");
    let img = init_suite::demo_image(arch, &art, &k, &work)?;
    std::fs::write(&initrd, img.archive.to_bytes()).map_err(|e| format!("{}: {e}", initrd.display()))?;
    let accel = match (accel, arch) {
        (AccelSel::Kvm, Arch::X86_64) => vm::Accel::Kvm,
        (AccelSel::Auto, Arch::X86_64) if vm::kvm_works(&k.boot, &initrd, img.boot_marker) => vm::Accel::Kvm,
        _ => vm::Accel::Tcg,
    };
    println!(
        "demo: booting {arch} with {} {} under QEMU ({accel:?}), dmzkit init as PID 1",
        k.package, k.version
    );
    let spec = vm::Spec {
        arch,
        kernel: &k.boot,
        initrd: &initrd,
        accel,
        deadline: Duration::from_secs(120),
        append: img.append,
        echo,
    };
    let b = vm::boot(&spec)?;
    let c = console::Console::parse(&b.lines);
    let svc = &scenario::services()[0];
    if !echo {
        println!("init's events on the console:");
        for l in b.lines.iter().filter(|l| l.starts_with("init: ")) {
            println!("  {l}");
        }
    }
    println!();
    println!(
        "The sample service \"{}\", started by init through the dmz transition, runs {}:",
        svc.tag,
        scenario::CAPS_COPY
    );
    println!("  config: uid 1000, gid 1000, no_new_privs, bounding = effective = permitted = {{CAP_NET_BIND_SERVICE}}, no ambient caps;");
    println!(
        "          the binary carries cap_net_bind_service=ep (set with setxattr by a setup task on a tmpfs)"
    );
    println!("  observed in the VM:");
    for key in [
        "Uid",
        "Gid",
        "Groups",
        "NoNewPrivs",
        "CapBnd",
        "CapPrm",
        "CapEff",
        "CapInh",
        "CapAmb",
        "Seccomp",
        "bind",
    ] {
        let shown = if key == "bind" { "bind(0.0.0.0:80)" } else { key };
        println!("    {shown:18} {}", c.get(svc.tag, key).unwrap_or("(not reported)"));
    }
    let ok = suite::service_check(svc)(&c);
    let off = c.find("init: poweroff now").is_some() && !b.timed_out;
    println!();
    match &ok {
        Ok(_) => println!("demo: the service got exactly what its config says, and bound port 80"),
        Err(e) => println!("demo: MISMATCH: {e}"),
    }
    if off {
        println!("demo: powered off after {:.1} s", b.elapsed.as_secs_f64());
    } else {
        println!("demo: the VM did not power off cleanly; console tail:\n{}", indent(&b.tail(25)));
    }
    Ok(if ok.is_ok() && off { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn test(arches: &[Arch], opts: &BootOpts) -> Result<ExitCode, String> {
    let started = Instant::now();
    setup::ensure(arches, true)?;
    let root = workspace_root();
    let target = target_dir();
    let cache = kernel::cache_dir(&target);
    let mut kernels = Vec::new();
    for &a in arches {
        let k = kernel::get(&cache, a, opts.refresh)?;
        println!("kernel {a}: {} {}", k.package, k.version);
        kernels.push(k);
    }
    let built = artifacts::build(&root, &target, arches)?;
    if let Some((_, art)) = built.first() {
        println!("dmzkit init: {}", art.init.display());
    }
    let mut runs = Vec::new();
    let mut kvm: Option<bool> = None;
    for ((arch, art), k) in built.iter().zip(&kernels) {
        for &suite in &opts.suite {
            let work = work_dir(&target, *arch);
            let img = make_image(*arch, suite, art, k, &work)?;
            let initrd = work.join(format!("{suite:?}.cpio").to_lowercase());
            std::fs::write(&initrd, img.archive.to_bytes())
                .map_err(|e| format!("{}: {e}", initrd.display()))?;
            let accel = match (opts.accel, arch) {
                (AccelSel::Kvm, Arch::X86_64) => vm::Accel::Kvm,
                (AccelSel::Auto, Arch::X86_64) => {
                    let ok = *kvm.get_or_insert_with(|| {
                        let ok = vm::kvm_works(&k.boot, &initrd, img.boot_marker);
                        println!(
                            "accel: KVM {}",
                            if ok { "works, using it for x86_64" } else { "not usable here, using TCG" }
                        );
                        ok
                    });
                    if ok {
                        vm::Accel::Kvm
                    } else {
                        vm::Accel::Tcg
                    }
                }
                _ => vm::Accel::Tcg,
            };
            let spec = vm::Spec {
                arch: *arch,
                kernel: &k.boot,
                initrd: &initrd,
                accel,
                deadline: Duration::from_secs(opts.deadline),
                append: img.append,
                echo: opts.echo,
            };
            println!("boot {arch} {suite:?} ({accel:?})");
            let b = vm::boot(&spec)?;
            let log = initrd.with_extension("console.log");
            std::fs::write(&log, b.lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", log.display()))?;
            let c = console::Console::parse(&b.lines);
            let mut outcomes: Vec<suite::Outcome> = img
                .checks
                .iter()
                .map(|(name, check)| suite::Outcome { name: name.clone(), result: check(&c) })
                .collect();
            if b.timed_out {
                outcomes.push(suite::Outcome {
                    name: "deadline".into(),
                    result: Err(format!(
                        "killed after {} s; console tail:\n{}",
                        opts.deadline,
                        indent(&b.tail(25))
                    )),
                });
            }
            for (name, why) in &img.todo {
                println!("  TODO {arch} {name}: {why}");
            }
            let failed = outcomes.iter().any(|o| o.result.is_err());
            for o in &outcomes {
                match &o.result {
                    Ok(d) => println!("  PASS {arch} {}: {d}", o.name),
                    Err(d) => println!("  FAIL {arch} {}: {d}", o.name),
                }
            }
            if failed && !b.timed_out {
                println!(
                    "  console tail ({arch}; whole console in {}):\n{}",
                    log.display(),
                    indent(&b.tail(25))
                );
                if !b.stderr.trim().is_empty() {
                    println!("  qemu stderr: {}", b.stderr.trim());
                }
            }
            let timing = boot_timing(&c);
            println!(
                "  {arch} {suite:?}: {:.1} s {}{}",
                b.elapsed.as_secs_f64(),
                if b.timed_out { "launch to the kill at the deadline" } else { "launch to QEMU's exit" },
                timing.map(|t| format!(", {}", t.describe())).unwrap_or_default()
            );
            runs.push(ArchRun {
                arch: *arch,
                suite,
                outcomes,
                todo: img.todo.len(),
                elapsed: b.elapsed,
                timing,
            });
        }
    }
    let passed: usize = runs.iter().map(|r| r.outcomes.iter().filter(|o| o.result.is_ok()).count()).sum();
    let failed: usize = runs.iter().map(|r| r.outcomes.iter().filter(|o| o.result.is_err()).count()).sum();
    println!();
    for r in &runs {
        let bad = r.outcomes.iter().filter(|o| o.result.is_err()).count();
        println!(
            "{:8} {:6} {} ({} checks, {:.1} s){}",
            r.arch.name(),
            format!("{:?}", r.suite).to_lowercase(),
            if bad == 0 { "ok" } else { "FAILED" },
            r.outcomes.len(),
            r.elapsed.as_secs_f64(),
            r.timing.map(|t| format!(", {}", t.describe())).unwrap_or_default()
        );
    }
    print_matrix(&runs);
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    let todo: usize = runs.iter().map(|r| r.todo).sum();
    if todo > 0 {
        println!("{todo} tests not yet implemented (TODO lines above), counted as skipped");
    }
    println!("{passed} passed, {failed} failed, {todo} skipped");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
