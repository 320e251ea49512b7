//! Lints `deploy/`: every YAML parses, manifests carry what Kubernetes needs,
//! probes point at the admin endpoints, the security context is locked down,
//! the shipped gateway configs are valid gateway configs, and the Grafana
//! dashboard and Prometheus alerts only use metrics the gateway exports.
//!
//! `helm` is not packaged for Debian, so the chart is checked structurally;
//! when `helm` is on PATH, `helm lint` and `helm template` run as well.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file, as JSON values (empty documents skipped).
fn documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Metric names declared in src/metrics.rs.
fn exported_metrics() -> BTreeSet<String> {
    metric_names(&read(&root().join("src/metrics.rs")))
}

/// Every `g2p_gateway_*` identifier in `text`, with histogram suffixes removed.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("g2p_gateway_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let mut name = &tail[..end];
        for suffix in ["_bucket", "_count", "_sum"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if base.ends_with("_seconds") {
                    name = base;
                }
            }
        }
        names.insert(name.to_string());
        rest = &tail[end..];
    }
    names
}

fn assert_known_metrics(what: &str, text: &str, known: &BTreeSet<String>) {
    let used = metric_names(text);
    assert!(!used.is_empty(), "{what} uses no g2p_gateway metric");
    let unknown: Vec<_> = used.difference(known).collect();
    assert!(
        unknown.is_empty(),
        "{what} uses unknown metrics {unknown:?}; exported: {known:?}"
    );
}

#[test]
fn plain_manifests_are_complete_kubernetes_objects() {
    let dir = deploy().join("kubernetes");
    let mut kinds = BTreeSet::new();
    for path in files(&dir, "yaml") {
        for doc in documents(&path) {
            let kind = doc["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: kind", path.display()));
            assert!(
                doc["apiVersion"].is_string(),
                "{}: apiVersion",
                path.display()
            );
            kinds.insert(kind.to_string());
            if kind == "Kustomization" {
                for resource in doc["resources"].as_array().unwrap() {
                    assert!(dir.join(resource.as_str().unwrap()).is_file(), "{resource}");
                }
                continue;
            }
            let meta = &doc["metadata"];
            assert!(
                meta["name"].is_string(),
                "{}: metadata.name",
                path.display()
            );
            assert_eq!(
                meta["labels"]["app.kubernetes.io/name"],
                "g2p-gateway",
                "{}: app.kubernetes.io/name label",
                path.display()
            );
        }
    }
    for expected in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Ingress",
        "ServiceMonitor",
        "StatefulSet",
    ] {
        assert!(
            kinds.contains(expected),
            "no {expected} in deploy/kubernetes"
        );
    }
}

#[test]
fn the_deployment_probes_admin_endpoints_and_runs_locked_down() {
    let deployment = documents(&deploy().join("kubernetes/deployment.yaml")).remove(0);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "admin");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "admin");
    let ports: Vec<&str> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(ports, ["http", "admin"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    // The config is a directory mount (no subPath), so ConfigMap updates reach the file.
    let mounts = container["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().all(|m| m.get("subPath").is_none()));
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let config = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    assert!(mounts
        .iter()
        .any(|m| config.starts_with(m["mountPath"].as_str().unwrap())));
    // SIGTERM drains within grace_period; the pod must be given longer.
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > 20);
}

/// Loads a gateway config: the only accepted problems are secret files that
/// exist in the pod, not here.
fn assert_valid_gateway_config(what: &str, yaml: &str) {
    let source = Path::new("/etc/g2p-gateway/config/gateway.yaml");
    match g2p_gateway::config::load_str_with_env(yaml, source, &|_| None) {
        Ok(_) => {}
        Err(errors) => {
            let real: Vec<_> = errors
                .iter()
                .filter(|e| {
                    !(e.path.ends_with(".file") && e.message.contains("/etc/g2p-gateway/secrets/"))
                })
                .collect();
            assert!(
                real.is_empty(),
                "{what} is not a valid gateway.yaml: {real:?}"
            );
        }
    }
}

#[test]
fn shipped_gateway_configs_are_valid() {
    let configmap = documents(&deploy().join("kubernetes/configmap.yaml")).remove(0);
    let yaml = configmap["data"]["gateway.yaml"].as_str().unwrap();
    assert_valid_gateway_config("deploy/kubernetes/configmap.yaml", yaml);
    let values = documents(&deploy().join("helm/g2p-gateway/values.yaml")).remove(0);
    let config = serde_yaml::to_string(&values["config"]).unwrap();
    assert_valid_gateway_config("values.yaml config", &config);
    // The chart's config and the rendered one say the same thing.
    let rendered: Value = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(
        rendered, values["config"],
        "configmap.yaml drifted from values.yaml"
    );
    for c in [&rendered, &values["config"]] {
        assert_eq!(c["server"]["admin_listen"], "0.0.0.0:9090");
        assert_eq!(c["server"]["watch_config"], true);
    }
}

#[test]
fn the_chart_is_well_formed() {
    let chart_dir = deploy().join("helm/g2p-gateway");
    let chart = documents(&chart_dir.join("Chart.yaml")).remove(0);
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "g2p-gateway");
    for key in ["version", "appVersion", "description"] {
        assert!(chart[key].is_string(), "Chart.yaml {key}");
    }
    let values = documents(&chart_dir.join("values.yaml")).remove(0);
    assert_eq!(
        values["containerSecurityContext"]["readOnlyRootFilesystem"],
        true
    );
    assert_eq!(
        values["containerSecurityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(values["podSecurityContext"]["runAsNonRoot"], true);
    assert!(values["redis"]["enabled"].is_boolean());
    assert!(values["secrets"]["existingSecret"].is_string());

    let templates = chart_dir.join("templates");
    let mut kinds = BTreeSet::new();
    for path in files(&templates, "yaml") {
        let text = read(&path);
        assert_eq!(
            text.matches("{{").count(),
            text.matches("}}").count(),
            "{}: unbalanced template braces",
            path.display()
        );
        assert!(text.contains("apiVersion:"), "{}", path.display());
        assert!(
            text.contains("g2p-gateway.labels"),
            "{}: common labels",
            path.display()
        );
        for line in text.lines().filter(|l| l.starts_with("kind: ")) {
            kinds.insert(line.trim_start_matches("kind: ").to_string());
        }
    }
    for expected in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Ingress",
        "ServiceMonitor",
        "StatefulSet",
        "ServiceAccount",
    ] {
        assert!(kinds.contains(expected), "chart has no {expected}");
    }
    let deployment = read(&templates.join("deployment.yaml"));
    assert!(deployment.contains("path: /healthz"));
    assert!(deployment.contains("path: /readyz"));
    let helpers = read(&templates.join("_helpers.tpl"));
    for label in [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/managed-by",
    ] {
        assert!(helpers.contains(label), "{label}");
    }

    // Where helm exists (not in Debian), let it have a say too.
    if Command::new("helm").arg("version").output().is_ok() {
        let lint = Command::new("helm")
            .args(["lint", "--set", "secrets.existingSecret=keys"])
            .arg(&chart_dir)
            .output()
            .unwrap();
        assert!(
            lint.status.success(),
            "{}",
            String::from_utf8_lossy(&lint.stdout)
        );
        let rendered = Command::new("helm")
            .args([
                "template",
                "g2p-gateway",
                "--set",
                "secrets.existingSecret=keys",
            ])
            .arg(&chart_dir)
            .output()
            .unwrap();
        assert!(rendered.status.success());
        let text = String::from_utf8_lossy(&rendered.stdout).into_owned();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc = Value::deserialize(doc).unwrap();
            if !doc.is_null() {
                assert!(doc["metadata"]["name"].is_string(), "{doc}");
            }
        }
    }
}

#[test]
fn dashboard_and_alerts_use_exported_metrics() {
    let known = exported_metrics();
    assert!(known.contains("g2p_gateway_config_reloads_total"));
    assert!(known.contains("g2p_gateway_session_store_up"));

    let path = deploy().join("grafana/g2p-gateway.json");
    let dashboard: Value = serde_json::from_str(&read(&path)).expect("dashboard is JSON");
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let panels = dashboard["panels"].as_array().unwrap();
    let mut exprs = String::new();
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            assert_known_metrics(&format!("panel {:?}", panel["title"]), expr, &known);
            exprs.push_str(expr);
            exprs.push('\n');
        }
    }
    for needed in [
        "g2p_gateway_logins_started_total",
        "g2p_gateway_logins_failed_total",
        "g2p_gateway_idp_request_duration_seconds",
        "g2p_gateway_sessions_active",
        "g2p_gateway_requests_total",
        "g2p_gateway_upstream_duration_seconds",
    ] {
        assert!(exprs.contains(needed), "the dashboard shows {needed}");
    }

    let alerts = documents(&deploy().join("prometheus/alerts.yaml")).remove(0);
    let mut names = BTreeSet::new();
    for group in alerts["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().expect("alert name");
            assert!(names.insert(name.to_string()), "duplicate alert {name}");
            let expr = rule["expr"].as_str().expect("expr");
            assert_known_metrics(name, expr, &known);
            assert!(rule["labels"]["severity"].is_string(), "{name}: severity");
            assert!(
                rule["annotations"]["summary"].is_string(),
                "{name}: summary"
            );
        }
    }
    let all: String = read(&deploy().join("prometheus/alerts.yaml"));
    for needed in [
        "g2p_gateway_logins_failed_total",
        "g2p_gateway_idp_request_duration_seconds_bucket",
        "g2p_gateway_jwks_refreshes_total",
        "g2p_gateway_session_store_up",
        "g2p_gateway_config_reloads_total",
    ] {
        assert!(all.contains(needed), "an alert on {needed}");
    }
}

#[test]
fn metric_names_are_extracted_from_expressions() {
    let names = metric_names(
        "histogram_quantile(0.9, rate(g2p_gateway_x_seconds_bucket[5m])) / g2p_gateway_y_total{a=\"b\"}",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["g2p_gateway_x_seconds", "g2p_gateway_y_total"]
    );
}

#[test]
fn systemd_unit_and_dockerfile_are_hardened() {
    let unit = read(&deploy().join("systemd/g2p-gateway.service"));
    for line in [
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DynamicUser=yes",
        "CapabilityBoundingSet=",
        "ExecStart=/usr/local/bin/g2p-gateway run",
    ] {
        assert!(
            unit.lines()
                .any(|l| l.trim() == line || l.starts_with(line)),
            "unit lacks {line}"
        );
    }
    let dockerfile = read(&deploy().join("Dockerfile"));
    assert_eq!(
        dockerfile
            .lines()
            .filter(|l| l.starts_with("FROM "))
            .count(),
        2,
        "multi-stage"
    );
    assert!(dockerfile.contains("cmake"));
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
}
