//! Set-up for Cairn's long-running programs, done first thing in `main`.

/// The variable glibc reads, once at start-up, for its number of malloc arenas.
pub const ARENA_MAX_VAR: &str = "MALLOC_ARENA_MAX";

/// Caps glibc's malloc arenas at the number of cores (two at least), by
/// starting this program again with [`ARENA_MAX_VAR`] set: glibc reads it
/// only at start-up. A value already in the environment is left alone.
///
/// glibc gives each thread that allocates an arena of its own, up to eight
/// per core, and keeps what is freed in each for that arena. The backup and
/// restore pipelines hand megabyte buffers between a dozen threads, so each
/// arena came to hold its own tens of megabytes, and peak memory grew with
/// the length of a run: on the benchmark corpus, two arenas took the
/// server's peak from 117 to 82 MiB during a backup and from 164 to 110 MiB
/// during a restore, and the agent's restore from 83 to 51 MiB, at the same
/// speed.
///
/// Call it before any thread starts. It returns only if the program goes on
/// as it is: the variable was set, the C library is not glibc, or starting
/// again failed (the program then runs with glibc's own arenas).
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        if std::env::var_os(ARENA_MAX_VAR).is_some() {
            return;
        }
        // The program's own path rather than `/proc/self/exe`, whose name
        // would become the process's (`ps` and `pgrep` would show "exe").
        let Ok(program) = std::env::current_exe() else {
            return;
        };
        let arenas = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(program);
        if let Some(name) = args.next() {
            command.arg0(name);
        }
        // Only returns if the program could not be started again.
        let _ = command
            .args(args)
            .env(ARENA_MAX_VAR, arenas.to_string())
            .exec();
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Set for the copy of this test binary that [`child`] runs in.
    const CHILD: &str = "CAIRN_CORE_ARENA_CHILD";

    /// Runs in a copy of the test binary: limits the arenas and reports the
    /// variable, process id and process name this process then has.
    #[test]
    #[ignore = "run by the tests below, in a process of its own"]
    fn arena_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        limit_malloc_arenas();
        let value = std::env::var(ARENA_MAX_VAR).unwrap_or_default();
        let name = std::fs::read_to_string("/proc/self/comm").unwrap();
        eprintln!(
            "arenas=<{value}> pid=<{}> name=<{}>",
            std::process::id(),
            name.trim_end()
        );
    }

    /// What [`arena_child`] reported.
    struct Reported {
        arenas: String,
        pid: u32,
        name: String,
    }

    /// Runs [`arena_child`] in a new process with `arenas` as the variable
    /// (unset if `None`); it must go on in the process that was started.
    fn child(arenas: Option<&str>) -> Reported {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--ignored",
                "--exact",
                "process::tests::arena_child",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env_remove(ARENA_MAX_VAR);
        if let Some(arenas) = arenas {
            command.env(ARENA_MAX_VAR, arenas);
        }
        let child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the child failed: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        let field = |name: &str| {
            err.split_once(&format!("{name}=<"))
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(value, _)| value.to_owned())
                .unwrap_or_else(|| panic!("the child reported no {name}: {err}"))
        };
        let reported = Reported {
            arenas: field("arenas"),
            pid: field("pid").parse().unwrap(),
            name: field("name"),
        };
        assert_eq!(
            reported.pid, pid,
            "the program must go on in the same process"
        );
        reported
    }

    #[test]
    fn the_program_starts_again_with_the_arenas_capped_and_its_name() {
        let cores = std::thread::available_parallelism().unwrap().get().max(2);
        let reported = child(None);
        assert_eq!(reported.arenas, cores.to_string());
        // The kernel keeps the first 15 bytes of the program's file name.
        let exe = std::env::current_exe().unwrap();
        let file = exe.file_name().unwrap().to_string_lossy();
        let expected: String = file.chars().take(15).collect();
        assert_eq!(
            reported.name, expected,
            "ps and pgrep must show the program's name"
        );
    }

    #[test]
    fn a_cap_already_set_is_left_alone() {
        assert_eq!(child(Some("7")).arenas, "7");
    }
}
