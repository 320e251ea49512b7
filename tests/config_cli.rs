//! `g2p-gateway check-config` on invalid files: every problem is printed with
//! its YAML path, and the exit code is 64 (EX_USAGE). The expected paths are
//! listed in each fixture as `# expect: <path>` lines.

mod common;

use std::path::Path;
use std::process::Command;

use common::exit_code_and_text;

fn check_config(path: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["check-config", "--config"])
        .arg(path)
        .env_remove("G2P_FIXTURE_UNSET_VARIABLE")
        .output()
        .expect("g2p-gateway runs");
    exit_code_and_text(&output)
}

#[test]
fn every_invalid_fixture_reports_each_expected_path_and_exits_64() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let expected: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_owned)
            .collect();
        assert!(
            !expected.is_empty(),
            "{} lists no expected paths",
            path.display()
        );
        let (code, output) = check_config(&path);
        assert_eq!(code, 64, "{}: {output}", path.display());
        for wanted in &expected {
            let found = output
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{wanted}:")));
            assert!(
                found,
                "{}: no error at `{wanted}` in:\n{output}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "fixtures found: {checked}");
}

#[test]
fn the_example_gateway_yaml_is_valid_and_warns_about_its_insecure_switch() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.yaml");
    let (code, output) = check_config(&path);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("insecure_cookie_without_secure"),
        "{output}"
    );
}

#[test]
fn run_refuses_an_invalid_config_before_starting() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let output = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["run", "--config"])
        .arg(dir.join("many-errors.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("routes[0].upstream"));
}

fn gateway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(args)
        .env_remove("G2P_GATEWAY_CONFIG")
        .output()
        .expect("g2p-gateway runs")
}

#[test]
fn strict_refuses_insecure_switches_in_check_config_and_run() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.yaml");
    let example = example.to_str().unwrap();
    for args in [
        vec!["check-config", "--strict", "--config", example],
        vec!["run", "--strict", "--config", example],
    ] {
        let output = gateway(&args);
        assert_eq!(output.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("refused by --strict"), "{stderr}");
        assert!(
            stderr.contains("session.insecure_cookie_without_secure"),
            "{stderr}"
        );
    }
}

#[test]
fn check_config_reads_the_config_path_from_the_environment() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let output = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .arg("check-config")
        .env("G2P_GATEWAY_CONFIG", dir.join("many-errors.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("many-errors.yaml"), "{stderr}");
    assert!(stderr.contains("routes[0].upstream"), "{stderr}");
}

#[test]
fn help_lists_the_exit_codes_and_version_names_the_git_revision() {
    let help = String::from_utf8(gateway(&["--help"]).stdout).unwrap();
    assert!(help.contains("Exit codes:"), "{help}");
    for code in ["  0 ", "  1 ", "  2 ", "  64 "] {
        assert!(
            help.contains(code),
            "--help lacks exit code {code:?}:\n{help}"
        );
    }
    assert!(help.contains("G2P_GATEWAY_CONFIG"), "{help}");
    let check_help = String::from_utf8(gateway(&["check-config", "--help"]).stdout).unwrap();
    assert!(check_help.contains("G2P_GATEWAY_CONFIG"), "{check_help}");
    assert!(check_help.contains("--strict"), "{check_help}");

    let version = String::from_utf8(gateway(&["--version"]).stdout).unwrap();
    assert!(
        version.starts_with(&format!("g2p-gateway {} (git ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    // Built from a git checkout (as here and in CI): the revision is HEAD's.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        if std::env::var_os("G2P_GATEWAY_GIT_REVISION").is_none() {
            let head = String::from_utf8(head.stdout).unwrap();
            assert!(version.contains(head.trim()), "{version} vs HEAD {head}");
        }
    }
}
