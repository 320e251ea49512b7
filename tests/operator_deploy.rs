//! Lints `deploy/`: every YAML parses, manifests carry what Kubernetes needs,
//! `kubectl kustomize` renders both layouts (one replica; replicas sharing
//! Redis), selectors never reach the bundled Redis, probes point at the admin
//! endpoints, the security context is locked down, the shipped gateway configs
//! are valid gateway configs, shutdown timing fits, and the Grafana dashboard
//! and Prometheus alerts only use metrics the gateway exports.
//!
//! `helm` is not packaged for Debian, so the chart's defaults and guards are
//! checked from its values and template text; when `helm` is on PATH, `helm
//! lint` and `helm template` run as well, including the refused values.

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

/// Metric names declared in src/shared/metrics.rs.
fn exported_metrics() -> BTreeSet<String> {
    metric_names(&read(&root().join("src/shared/metrics.rs")))
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
    let mut kinds = BTreeSet::new();
    for dir in [
        deploy().join("kubernetes"),
        deploy().join("kubernetes-replicated"),
    ] {
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
        "NetworkPolicy",
    ] {
        assert!(
            kinds.contains(expected),
            "no {expected} in deploy/kubernetes*"
        );
    }
}

/// `kubectl kustomize DIR`, as parsed documents; `None` when kubectl is not
/// installed outside CI (this project's machines have it; in CI, with
/// `CI=true`, its absence fails the test).
fn kustomize(dir: &Path) -> Option<Vec<Value>> {
    let output = match Command::new("kubectl").arg("kustomize").arg(dir).output() {
        Ok(output) => output,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: kubectl not found ({e}); `kubectl kustomize` not checked");
            return None;
        }
        Err(e) => panic!("kubectl (for `kubectl kustomize`) is needed in CI: {e}"),
    };
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    Some(
        serde_yaml::Deserializer::from_str(&text)
            .map(|doc| Value::deserialize(doc).unwrap())
            .filter(|v| !v.is_null())
            .collect(),
    )
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// Whether a `matchLabels` map selects a pod with `labels`.
fn selects(match_labels: &Value, labels: &Value) -> bool {
    let wanted = match_labels.as_object().expect("matchLabels is a map");
    !wanted.is_empty() && wanted.iter().all(|(k, v)| &labels[k] == v)
}

/// Every gateway selector in `docs` (Deployment, Service, PDB, NetworkPolicy,
/// ServiceMonitor) selects the gateway's pods and never the Redis pods.
fn assert_selectors_reach_only_the_gateway(docs: &[Value]) {
    let gateway_pods = &of_kind(docs, "Deployment")[0]["spec"]["template"]["metadata"]["labels"];
    let redis_pods: Vec<&Value> = of_kind(docs, "StatefulSet")
        .iter()
        .map(|s| &s["spec"]["template"]["metadata"]["labels"])
        .collect();
    let mut checked = 0;
    for doc in docs {
        let selector = match doc["kind"].as_str().unwrap() {
            "Deployment" | "PodDisruptionBudget" | "ServiceMonitor" => {
                &doc["spec"]["selector"]["matchLabels"]
            }
            "Service" => &doc["spec"]["selector"],
            "NetworkPolicy" => &doc["spec"]["podSelector"]["matchLabels"],
            _ => continue,
        };
        let name = doc["metadata"]["name"].as_str().unwrap();
        if name.ends_with("-redis") || name.ends_with("-portal") {
            continue; // their own pods, checked below
        }
        assert!(selects(selector, gateway_pods), "{name}: {selector}");
        for redis in &redis_pods {
            assert!(!selects(selector, redis), "{name} selects the Redis pods");
        }
        checked += 1;
    }
    assert!(checked >= 3, "{checked} gateway selectors");
}

#[test]
fn kustomize_renders_one_replica_without_a_pdb_and_locks_the_portal() {
    let Some(docs) = kustomize(&deploy().join("kubernetes")) else {
        return;
    };
    for doc in &docs {
        assert_eq!(doc["metadata"]["namespace"], "openg2p", "{doc}");
    }
    let deployments = of_kind(&docs, "Deployment");
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["spec"]["replicas"], 1);
    assert!(of_kind(&docs, "PodDisruptionBudget").is_empty());
    assert!(of_kind(&docs, "HorizontalPodAutoscaler").is_empty());
    assert!(of_kind(&docs, "StatefulSet").is_empty());
    assert_selectors_reach_only_the_gateway(&docs);
    // The in-memory store: one replica is all it can serve.
    let configmap = of_kind(&docs, "ConfigMap")[0];
    let config: Value =
        serde_yaml::from_str(configmap["data"]["gateway.yaml"].as_str().unwrap()).unwrap();
    assert!(config["session"]["store"].is_null(), "{config}");

    let policies = of_kind(&docs, "NetworkPolicy");
    let gateway_policy = policies
        .iter()
        .find(|p| p["metadata"]["name"] == "g2p-gateway")
        .expect("a NetworkPolicy for the gateway");
    let rules = gateway_policy["spec"]["ingress"].as_array().unwrap();
    let ports: Vec<&Value> = rules.iter().map(|r| &r["ports"][0]["port"]).collect();
    assert_eq!(ports, ["http", "admin"]);
    for rule in rules {
        assert!(
            !rule["from"].as_array().unwrap().is_empty(),
            "an empty `from` would admit everyone"
        );
    }
    let portal = policies
        .iter()
        .find(|p| p["metadata"]["name"] == "g2p-gateway-portal")
        .expect("a NetworkPolicy for the portal");
    let from = &portal["spec"]["ingress"][0]["from"];
    assert_eq!(from.as_array().unwrap().len(), 1, "{from}");
    assert!(selects(
        &from[0]["podSelector"]["matchLabels"],
        &deployments[0]["spec"]["template"]["metadata"]["labels"]
    ));
    assert!(portal["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"].is_string());
}

#[test]
fn kustomize_renders_replicas_sharing_redis() {
    let Some(docs) = kustomize(&deploy().join("kubernetes-replicated")) else {
        return;
    };
    let deployment = of_kind(&docs, "Deployment")[0];
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() > 1);
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["name"], "G2P_REDIS_URL", "{env}");
    // The strategic merge kept the rest of the container.
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
            ["path"],
        "/readyz"
    );
    let configmap = of_kind(&docs, "ConfigMap")[0];
    let yaml = configmap["data"]["gateway.yaml"].as_str().unwrap();
    let config: Value = serde_yaml::from_str(yaml).unwrap();
    assert!(config["session"]["store"]["redis"].is_object(), "{config}");
    assert_valid_gateway_config("kubernetes-replicated ConfigMap", yaml, &|name| {
        (name == "G2P_REDIS_URL").then(|| "redis://:pw@g2p-gateway-redis:6379/0".into())
    });
    assert_eq!(of_kind(&docs, "PodDisruptionBudget").len(), 1);
    assert_eq!(of_kind(&docs, "HorizontalPodAutoscaler").len(), 1);
    assert_selectors_reach_only_the_gateway(&docs);
    let redis = of_kind(&docs, "StatefulSet")[0];
    let args: Vec<&str> = redis["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for flag in ["--maxmemory", "--maxmemory-policy", "--requirepass"] {
        assert!(args.contains(&flag), "redis lacks {flag}: {args:?}");
    }
    let policy = args[args
        .iter()
        .position(|a| *a == "--maxmemory-policy")
        .unwrap()
        + 1];
    assert!(
        policy == "noeviction" || policy.starts_with("volatile-"),
        "every gateway key has a TTL; {policy} could evict what has none"
    );
    // Only the gateway reaches Redis.
    let redis_policy = of_kind(&docs, "NetworkPolicy")
        .into_iter()
        .find(|p| p["metadata"]["name"] == "g2p-gateway-redis")
        .expect("a NetworkPolicy for Redis");
    assert!(selects(
        &redis_policy["spec"]["podSelector"]["matchLabels"],
        &redis["spec"]["template"]["metadata"]["labels"]
    ));
    assert!(selects(
        &redis_policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"],
        &deployment["spec"]["template"]["metadata"]["labels"]
    ));
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
    // preStop, then SIGTERM drains within grace_period and waits up to as
    // long again: the pod must be given all of it and a margin.
    let configmap = documents(&deploy().join("kubernetes/configmap.yaml")).remove(0);
    let config: Value =
        serde_yaml::from_str(configmap["data"]["gateway.yaml"].as_str().unwrap()).unwrap();
    let grace = seconds(config["server"]["grace_period"].as_str().unwrap());
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    assert!(
        pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= pre_stop + 2 * grace + 5,
        "terminationGracePeriodSeconds < preStop + 2 x grace_period + 5"
    );
}

/// `20s`, `1m`, `1m30s` in seconds.
fn seconds(text: &str) -> u64 {
    humantime::parse_duration(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .as_secs()
}

/// Loads a gateway config: the only accepted problems are secret files that
/// exist in the pod, not here.
fn assert_valid_gateway_config(what: &str, yaml: &str, env: &dyn Fn(&str) -> Option<String>) {
    let source = Path::new("/etc/g2p-gateway/config/gateway.yaml");
    match g2p_gateway::config::load_str_with_env(yaml, source, env) {
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
    assert_valid_gateway_config("deploy/kubernetes/configmap.yaml", yaml, &|_| None);
    let values = documents(&deploy().join("helm/g2p-gateway/values.yaml")).remove(0);
    let config = serde_yaml::to_string(&values["config"]).unwrap();
    assert_valid_gateway_config("values.yaml config", &config, &|_| None);
    // The chart's config and the rendered one say the same thing.
    let rendered: Value = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(
        rendered, values["config"],
        "configmap.yaml drifted from values.yaml"
    );
    // The replicated layout's ConfigMap is the same plus the Redis store.
    let replicated =
        documents(&deploy().join("kubernetes-replicated/configmap-redis.yaml")).remove(0);
    let mut with_redis: Value =
        serde_yaml::from_str(replicated["data"]["gateway.yaml"].as_str().unwrap()).unwrap();
    assert!(with_redis["session"]["store"]["redis"].is_object());
    with_redis["session"]
        .as_object_mut()
        .unwrap()
        .remove("store");
    assert_eq!(with_redis, rendered, "configmap-redis.yaml drifted");
    for c in [&rendered, &values["config"]] {
        assert_eq!(c["server"]["admin_listen"], "0.0.0.0:9090");
        assert_eq!(c["server"]["watch_config"], true);
        // Forwarded headers only from named networks, never from any peer.
        assert!(c["server"].get("trust_forwarded_headers").is_none());
        let proxies = c["server"]["trusted_proxies"].as_array().unwrap();
        assert!(!proxies.is_empty());
        for net in proxies {
            let net = net.as_str().unwrap();
            assert!(net.contains('/') && !net.ends_with("/0"), "{net}");
        }
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
        "NetworkPolicy",
        "VirtualService",
        "PrometheusRule",
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
        helm_renders_and_refuses(&chart_dir);
    }
}

/// The text of `{{- define "NAME" -}}` in `_helpers.tpl`, up to the next define.
fn define<'a>(helpers: &'a str, name: &str) -> &'a str {
    let start = helpers
        .find(&format!("define \"{name}\""))
        .unwrap_or_else(|| panic!("no define {name}"));
    let rest = &helpers[start + 1..];
    &rest[..rest.find("define \"").unwrap_or(rest.len())]
}

#[test]
fn the_chart_defaults_to_one_replica_and_refuses_several_without_a_shared_store() {
    let chart_dir = deploy().join("helm/g2p-gateway");
    let values = documents(&chart_dir.join("values.yaml")).remove(0);
    let templates = chart_dir.join("templates");
    let helpers = read(&templates.join("_helpers.tpl"));

    // Defaults: one replica, in-memory sessions, no autoscaling.
    assert_eq!(values["replicaCount"], 1);
    assert_eq!(values["redis"]["enabled"], false);
    assert_eq!(values["autoscaling"]["enabled"], false);
    assert!(values["config"]["session"]["store"].is_null());

    // The guard runs with the Deployment (so every render checks it) and
    // fails for several replicas or autoscaling without a shared store.
    assert!(read(&templates.join("deployment.yaml"))
        .starts_with("{{- include \"g2p-gateway.validate\" . }}"));
    let validate = define(&helpers, "g2p-gateway.validate");
    assert!(validate.contains("(or (gt $max 1) .Values.autoscaling.enabled)"));
    assert!(validate.contains("(not (include \"g2p-gateway.sharedStore\" .))"));
    assert!(validate.contains("fail \"more than one replica"));
    let shared = define(&helpers, "g2p-gateway.sharedStore");
    assert!(shared.contains(".Values.redis.enabled") && shared.contains("hasKey $store \"redis\""));
    // A PodDisruptionBudget only with more than one replica.
    assert!(read(&templates.join("pdb.yaml"))
        .starts_with("{{- if include \"g2p-gateway.pdbEnabled\" . }}"));
    assert!(define(&helpers, "g2p-gateway.pdbEnabled").contains("(gt $min 1)"));
    let min_replicas = if values["autoscaling"]["enabled"] == true {
        values["autoscaling"]["minReplicas"].as_u64().unwrap()
    } else {
        values["replicaCount"].as_u64().unwrap()
    };
    assert_eq!(min_replicas, 1, "a default render has no PDB");

    // The old switch is refused with a pointer to its replacement.
    assert!(
        validate.contains("trust_forwarded_headers is replaced by config.server.trusted_proxies")
    );

    // Shutdown timing: preStop + 2 x grace_period + a margin fits.
    let grace = seconds(values["config"]["server"]["grace_period"].as_str().unwrap());
    let pre_stop = values["preStopSleepSeconds"].as_u64().unwrap();
    let total = values["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        total >= pre_stop + 2 * grace + 5,
        "{total} < {pre_stop} + 2 x {grace} + 5"
    );
    assert!(validate.contains("(mul 2 $grace) 5"));
    // preStop.sleep exists from Kubernetes 1.30 on.
    let chart = documents(&chart_dir.join("Chart.yaml")).remove(0);
    let kube = chart["kubeVersion"].as_str().unwrap();
    let minor: u32 = kube
        .trim_start_matches(">=")
        .split('.')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        kube.starts_with(">=1.") && minor >= 30,
        "kubeVersion {kube}: preStop.sleep needs 1.30"
    );
}

#[test]
fn every_chart_selector_carries_the_component() {
    let templates = deploy().join("helm/g2p-gateway/templates");
    let helpers = read(&templates.join("_helpers.tpl"));
    assert!(define(&helpers, "g2p-gateway.selectorLabels")
        .contains("app.kubernetes.io/component: gateway"));
    assert!(define(&helpers, "g2p-gateway.redisSelectorLabels")
        .contains("app.kubernetes.io/component: redis"));
    // The common labels carry no component (each object adds its own), and
    // no selector is built from them.
    assert!(!define(&helpers, "g2p-gateway.labels").contains("component"));
    let mut selectors = 0;
    for path in files(&templates, "yaml") {
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let key = line.trim();
            let prev = if i > 0 { lines[i - 1].trim() } else { "" };
            let pod_selector = key == "selector:"
                || (key == "matchLabels:"
                    && ["selector:", "podSelector:", "- podSelector:"].contains(&prev));
            if pod_selector {
                let next = lines[i + 1].trim();
                if next == "matchLabels:" {
                    continue; // checked on the matchLabels line
                }
                if next.starts_with("{{- required") {
                    continue; // the portal's own pods (another chart's labels)
                }
                assert!(
                    next.contains("include \"g2p-gateway.selectorLabels\"")
                        || next.contains("include \"g2p-gateway.redisSelectorLabels\""),
                    "{}:{}: selector built from {next}",
                    path.display(),
                    i + 2
                );
                selectors += 1;
            }
        }
    }
    assert!(selectors >= 8, "{selectors} selectors found");
}

#[test]
fn the_chart_follows_openg2p_conventions() {
    let chart_dir = deploy().join("helm/g2p-gateway");
    let values = documents(&chart_dir.join("values.yaml")).remove(0);
    // The dashboard and the alerts inside the chart are the repository's.
    assert_eq!(
        read(&chart_dir.join("files/dashboard.json")),
        read(&deploy().join("grafana/g2p-gateway.json")),
        "helm/g2p-gateway/files/dashboard.json drifted from deploy/grafana"
    );
    assert_eq!(
        read(&chart_dir.join("files/alerts.yaml")),
        read(&deploy().join("prometheus/alerts.yaml")),
        "helm/g2p-gateway/files/alerts.yaml drifted from deploy/prometheus"
    );
    let dashboard = read(&chart_dir.join("templates/grafana-dashboard.yaml"));
    assert!(dashboard.contains(".Files.Get \"files/dashboard.json\""));
    assert_eq!(
        values["metrics"]["grafanaDashboard"]["labels"]["grafana_dashboard"],
        "1"
    );
    assert!(read(&chart_dir.join("templates/prometheusrule.yaml"))
        .contains(".Files.Get \"files/alerts.yaml\""));
    let virtual_service = read(&chart_dir.join("templates/virtualservice.yaml"));
    assert!(virtual_service.contains("networking.istio.io/"));
    assert!(values["istio"]["gateway"].is_string());
    // NetworkPolicies on by default, each rule with a non-empty `from`.
    assert_eq!(values["networkPolicy"]["enabled"], true);
    for key in ["proxyFrom", "adminFrom"] {
        assert!(
            !values["networkPolicy"][key].as_array().unwrap().is_empty(),
            "{key}"
        );
    }
    assert!(values["networkPolicy"]["portal"]["podLabels"].is_object());
    // The Ingress lets through what the gateway accepts (ingress-nginx: 1 MiB).
    let body = values["ingress"]["maxBodySize"].as_str().unwrap();
    let mib: u64 = body.trim_end_matches('m').parse().unwrap();
    assert_eq!(
        mib * 1024 * 1024,
        100 * 1024 * 1024,
        "server.max_body_bytes' default"
    );
    assert!(read(&chart_dir.join("templates/ingress.yaml"))
        .contains("nginx.ingress.kubernetes.io/proxy-body-size"));
    // The bundled Redis: bounded memory, a password stable across renders.
    assert!(values["redis"]["maxmemory"].is_string());
    let policy = values["redis"]["maxmemoryPolicy"].as_str().unwrap();
    assert!(policy == "noeviction" || policy.starts_with("volatile-"));
    let redis = read(&chart_dir.join("templates/redis.yaml"));
    assert!(
        !redis.contains("randAlphaNum"),
        "a password regenerated on every render"
    );
    assert!(redis.contains("--maxmemory-policy"));
    // Checksums roll the pods on config and Secret changes when asked.
    let deployment = read(&chart_dir.join("templates/deployment.yaml"));
    assert!(deployment.contains("checksum/config") && deployment.contains("checksum/secrets"));

    // The Rancher form only asks for keys that exist in values.yaml.
    let questions = documents(&chart_dir.join("questions.yaml")).remove(0);
    let mut asked = Vec::new();
    for q in questions["questions"].as_array().unwrap() {
        asked.push(q["variable"].as_str().unwrap().to_owned());
        for sub in q["subquestions"].as_array().into_iter().flatten() {
            asked.push(sub["variable"].as_str().unwrap().to_owned());
        }
    }
    assert!(asked.len() >= 8);
    for variable in asked {
        let mut node = &values;
        let mut rest = variable.as_str();
        while !rest.is_empty() {
            // Keys split on unescaped dots; `\.` stays in the key.
            let (key, tail) = split_key(rest);
            rest = tail;
            node = match key.strip_suffix("[0]") {
                Some(list) => &node[list][0],
                None => &node[key.replace("\\.", ".").as_str()],
            };
            assert!(
                !node.is_null(),
                "questions.yaml asks for {variable}, not in values.yaml"
            );
        }
    }
}

/// The first key of a Helm `--set` path and the rest.
fn split_key(path: &str) -> (&str, &str) {
    let bytes = path.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'.' && (i == 0 || bytes[i - 1] != b'\\') {
            return (&path[..i], &path[i + 1..]);
        }
    }
    (path, "")
}

/// `helm lint` and `helm template` with the defaults, then the values the
/// chart must refuse.
fn helm_renders_and_refuses(chart_dir: &Path) {
    let helm = |args: &[&str]| {
        Command::new("helm")
            .args(args)
            .arg(chart_dir)
            .output()
            .unwrap()
    };
    let lint = helm(&["lint", "--set", "secrets.existingSecret=keys"]);
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let rendered = helm(&[
        "template",
        "g2p-gateway",
        "--set",
        "secrets.existingSecret=keys",
    ]);
    assert!(rendered.status.success());
    let text = String::from_utf8_lossy(&rendered.stdout).into_owned();
    let mut kinds = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = Value::deserialize(doc).unwrap();
        if !doc.is_null() {
            assert!(doc["metadata"]["name"].is_string(), "{doc}");
            kinds.push(doc["kind"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        !kinds.iter().any(|k| k == "PodDisruptionBudget"),
        "{kinds:?}"
    );
    for refused in [
        vec!["--set", "replicaCount=2"],
        vec!["--set", "autoscaling.enabled=true"],
        vec!["--set", "terminationGracePeriodSeconds=30"],
        vec!["--set", "config.server.trust_forwarded_headers=true"],
    ] {
        let mut args = vec![
            "template",
            "g2p-gateway",
            "--set",
            "secrets.existingSecret=keys",
        ];
        args.extend(refused.iter().copied());
        assert!(!helm(&args).status.success(), "{refused:?} was accepted");
    }
    let two = helm(&[
        "template",
        "g2p-gateway",
        "--set",
        "secrets.existingSecret=keys",
        "--set",
        "replicaCount=2",
        "--set",
        "redis.enabled=true",
        "--set",
        "redis.password=pw",
    ]);
    assert!(
        two.status.success(),
        "{}",
        String::from_utf8_lossy(&two.stderr)
    );
    assert!(String::from_utf8_lossy(&two.stdout).contains("kind: PodDisruptionBudget"));
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
        "ExecReload=/usr/local/bin/g2p-gateway check-config",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=g2p-gateway",
        "CapabilityBoundingSet=",
        "ExecStart=/usr/local/bin/g2p-gateway run",
        // An invalid config (exit 64) is not restarted in a loop.
        "RestartPreventExitStatus=64",
        "StartLimitBurst=",
    ] {
        assert!(
            unit.lines()
                .any(|l| l.trim() == line || l.starts_with(line)),
            "unit lacks {line}"
        );
    }
    // The check runs before the signal, so a bad file fails the reload.
    let check = unit
        .find("ExecReload=/usr/local/bin/g2p-gateway check-config")
        .unwrap();
    assert!(check < unit.find("ExecReload=/bin/kill -HUP").unwrap());
    // Keys are read in place (a reload picks up rotated keys): no copies made
    // once at start, and no transient user that cannot read /etc/g2p-gateway.
    for absent in ["LoadCredential=", "DynamicUser=yes"] {
        assert!(
            !unit.lines().any(|l| l.starts_with(absent)),
            "unit has {absent}"
        );
    }
    let sysusers = read(&deploy().join("systemd/g2p-gateway.sysusers"));
    assert!(sysusers.lines().any(|l| l.starts_with("u g2p-gateway ")));
    // Where systemd is installed, it parses the unit with the real binary.
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g2p-gateway.service");
        std::fs::write(
            &path,
            unit.replace(
                "/usr/local/bin/g2p-gateway",
                env!("CARGO_BIN_EXE_g2p-gateway"),
            ),
        )
        .unwrap();
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&verify.stderr).into_owned();
        let problems: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("g2p-gateway.service"))
            .collect();
        assert!(problems.is_empty(), "systemd-analyze verify: {text}");
    }

    let dockerfile = read(&deploy().join("Dockerfile"));
    let from: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from.len(), 2, "multi-stage");
    assert!(dockerfile.contains("cmake"));
    // Pinned: an exact Rust version and the runtime image by digest.
    let arg = |name: &str| {
        dockerfile
            .lines()
            .find_map(|l| l.strip_prefix(&format!("ARG {name}=")))
            .unwrap_or_else(|| panic!("no ARG {name}"))
            .to_owned()
    };
    let rust = arg("RUST_VERSION");
    assert_eq!(
        rust.split('.').count(),
        3,
        "RUST_VERSION={rust} is not pinned"
    );
    assert!(arg("RUNTIME_IMAGE").contains("@sha256:"));
    for label in [
        "org.opencontainers.image.source",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.version",
        "org.opencontainers.image.licenses=\"Apache-2.0\"",
    ] {
        assert!(dockerfile.contains(label), "no {label}");
    }
    // No shell in the image: the health check is the binary itself.
    assert!(dockerfile.contains("CMD [\"/usr/local/bin/g2p-gateway\", \"healthcheck\"]"));
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    // The licence the image and the manifest claim is in the repository.
    assert!(read(&root().join("LICENSE")).contains("Apache License"));
}

#[test]
fn the_jwks_alert_fires_before_a_first_success_and_sessions_are_not_summed() {
    let alerts = documents(&deploy().join("prometheus/alerts.yaml")).remove(0);
    let rule = alerts["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["alert"] == "G2PGatewayJwksRefreshFailing")
        .unwrap();
    let expr = rule["expr"].as_str().unwrap();
    // `A and B == 0` is empty while the outcome="ok" series does not exist.
    assert!(expr.contains("unless"), "{expr}");
    assert!(!expr.contains("== 0"), "{expr}");

    let dashboard: Value =
        serde_json::from_str(&read(&deploy().join("grafana/g2p-gateway.json"))).unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for gauge in ["g2p_gateway_sessions_active", "g2p_gateway_pending_logins"] {
                // Every replica reports the shared store's count.
                assert!(
                    !(expr.contains(gauge) && expr.starts_with("sum(")),
                    "{expr}"
                );
            }
        }
    }
}

/// Pages other changes of this release add; links to them are checked once they exist.
const PAGES_FROM_OTHER_CHANGES: &[&str] = &[
    "security.md",
    "emulator.md",
    "openg2p-mapping.md",
    "openg2p.md",
];

/// GitHub's anchor of a Markdown heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Relative link targets `](target)` of a Markdown text, outside code blocks.
fn links(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let tail = &rest[i + 2..];
            let Some(end) = tail.find(')') else { break };
            let target = &tail[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                out.push(target.to_owned());
            }
            rest = &tail[end..];
        }
    }
    out
}

#[test]
fn the_docs_pages_exist_and_every_link_resolves() {
    let docs = root().join("docs");
    for page in [
        "README.md",
        "configuration.md",
        "routing.md",
        "operations.md",
        "observability.md",
        "troubleshooting.md",
        "production-checklist.md",
        "testing.md",
        "performance.md",
        "architecture.md",
    ] {
        assert!(docs.join(page).is_file(), "docs/{page} is missing");
    }
    let readme = read(&root().join("README.md"));
    assert!(
        readme.len() < 16 * 1024,
        "README.md is {} bytes: reference material goes to docs/",
        readme.len()
    );
    // The opening is still the two commands.
    let two = readme.find("## Two commands").expect("the two commands");
    assert!(two < readme.find("## How a login works").unwrap());
    assert!(readme.contains("./scripts/demo") && readme.contains("./scripts/test"));
    assert!(readme.contains("## Security"));

    let mut pages = vec![root().join("README.md")];
    pages.extend(files(&docs, "md"));
    // In-cluster URLs name the Service's port (80), not the container's.
    let values = documents(&deploy().join("helm/g2p-gateway/values.yaml")).remove(0);
    let service_port = values["service"]["port"].as_u64().unwrap();
    for page in &pages {
        let text = read(page);
        for (i, _) in text.match_indices("svc.cluster.local") {
            let after = &text[i + "svc.cluster.local".len()..];
            if let Some(port) = after.strip_prefix(':') {
                let port: String = port.chars().take_while(char::is_ascii_digit).collect();
                assert_eq!(
                    port,
                    service_port.to_string(),
                    "{}: a Service URL with port {port}",
                    page.display()
                );
            }
        }
    }
    let mut checked = 0;
    for page in &pages {
        let text = read(page);
        for link in links(&text) {
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.exists() {
                let name = target.file_name().unwrap().to_str().unwrap();
                let pending = target.parent().unwrap().ends_with("docs")
                    && PAGES_FROM_OTHER_CHANGES.contains(&name);
                assert!(pending, "{}: broken link {link}", page.display());
                continue;
            }
            if !anchor.is_empty() && target.extension().is_some_and(|e| e == "md") {
                assert!(
                    anchors(&read(&target)).contains(anchor),
                    "{}: no heading for {link}",
                    page.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked} links checked");
}

#[test]
fn the_references_name_every_key_metric_and_error_code() {
    let reference = read(&root().join("docs/configuration.md"));
    let words: BTreeSet<&str> = reference
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    // Every field of every `Raw*` struct (the keys the loader accepts).
    let raw = read(&root().join("src/config/raw.rs"));
    let mut keys = BTreeSet::new();
    let mut in_raw = false;
    for line in raw.lines() {
        let line = line.trim();
        if line.starts_with("pub struct Raw") {
            in_raw = true;
        } else if line == "}" {
            in_raw = false;
        } else if in_raw {
            if let Some(field) = line.strip_prefix("pub ").and_then(|l| l.split(':').next()) {
                keys.insert(field.trim().to_owned());
            }
        }
    }
    assert!(keys.len() > 60, "{} keys found in raw.rs", keys.len());
    let missing: Vec<_> = keys
        .iter()
        .filter(|k| !words.contains(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?}"
    );

    // Every exported metric is in the metrics reference.
    let observability = read(&root().join("docs/observability.md"));
    for metric in exported_metrics() {
        assert!(
            observability.contains(&format!("`{metric}`")),
            "docs/observability.md lacks {metric}"
        );
    }
    // Every failure reason and error code leads to a fix.
    let troubleshooting = read(&root().join("docs/troubleshooting.md"));
    let errors = read(&root().join("src/edge/error.rs"));
    let mut codes = 0;
    for line in errors.lines().filter(|l| l.contains("=> \"")) {
        let code = line.split('"').nth(1).unwrap();
        assert!(
            troubleshooting.contains(&format!("`{code}`")),
            "docs/troubleshooting.md lacks {code}"
        );
        codes += 1;
    }
    assert!(codes >= 25, "{codes} codes");
    // The published benchmark table is the one scripts/bench writes.
    let performance = read(&root().join("docs/performance.md"));
    let bench = read(&root().join("scripts/bench.py"));
    for marker in ["<!-- bench:begin -->", "<!-- bench:end -->"] {
        assert_eq!(performance.matches(marker).count(), 1, "{marker}");
        assert!(
            bench.contains(marker),
            "scripts/bench.py writes between {marker}"
        );
    }
}
