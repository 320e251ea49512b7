//! `g2p-gateway check-config` on invalid files: every problem is printed with
//! its YAML path, and the exit code is 64 (EX_USAGE). The expected paths are
//! listed in each fixture as `# expect: <path>` lines.

use std::path::Path;
use std::process::Command;

fn check_config(path: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["check-config", "--config"])
        .arg(path)
        .env_remove("G2P_FIXTURE_UNSET_VARIABLE")
        .output()
        .expect("g2p-gateway runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
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
