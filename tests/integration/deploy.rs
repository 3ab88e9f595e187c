//! `template.yaml` against the code: every function has a package, every package a function,
//! and each function's configuration reads nothing the template does not set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_norway::Value;
use sikurd::config::Env;
use sikurd::functions::FUNCTIONS;

fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The template's functions: binary name -> environment variable names.
fn template_functions() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repository().join("template.yaml")).unwrap();
    let template: Value = serde_norway::from_str(&text).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut functions = BTreeMap::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id:?} has no Metadata.BuildProperties.Binary"));
        assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{id:?}");
        let variables = resource["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        assert!(functions.insert(binary.to_owned(), variables).is_none(), "two functions build {binary}");
    }
    functions
}

/// The packages under `functions/` (directories with a Cargo.toml).
fn function_packages() -> BTreeSet<String> {
    std::fs::read_dir(repository().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_function_of_the_template_has_a_package_and_every_package_a_function() {
    let template: BTreeSet<String> = template_functions().into_keys().collect();
    let packages = function_packages();
    let wired: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(template, packages, "functions in template.yaml vs packages under functions/");
    assert_eq!(wired, packages, "sikurd::functions::FUNCTIONS vs packages under functions/");
    for package in &packages {
        let manifest =
            std::fs::read_to_string(repository().join("functions").join(package).join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("name = \"{package}\"")), "functions/{package} builds another name");
    }
}

#[test]
fn every_variable_a_function_reads_is_set_by_the_template() {
    let template = template_functions();
    for function in FUNCTIONS {
        let variables = &template[function.name];
        let env = Env::from_pairs(variables.iter().map(|name| {
            // The values CloudFormation will fill in; what matters here is that each is set.
            let value = match name.as_str() {
                "SIKURD_SIGNUP_ENABLED" => "true",
                n if n.ends_with("_TARGETS") => "public",
                n if n.ends_with("_EMAIL") => "alerts@example.com",
                n if n.starts_with("SIKURD_BCRYPT") => "12",
                n if n.contains("MINUTES") || n.contains("HOURS") || n.contains("FAILURES") => "10",
                _ => "from-the-template",
            };
            (name.clone(), value.to_owned())
        }));
        (function.check_config)(&env).unwrap_or_else(|e| panic!("{}: {e}", function.name));
        let unset: Vec<&str> = env.asked().into_iter().filter(|name| !variables.contains(*name)).collect();
        assert!(unset.is_empty(), "{} reads {unset:?}, which template.yaml does not set", function.name);
        let unread: Vec<&String> = variables.iter().filter(|name| !env.asked().contains(&name.as_str())).collect();
        assert!(unread.is_empty(), "template.yaml sets {unread:?} for {}, which it never reads", function.name);
    }
}

/// Every `Action` of every IAM statement under `node`, with the resource id it belongs to.
fn actions_under(id: &str, node: &Value, found: &mut Vec<(String, String)>) {
    match node {
        Value::Mapping(map) => {
            for (key, value) in map {
                if key.as_str() == Some("Action") {
                    let actions: Vec<&Value> = match value {
                        Value::Sequence(list) => list.iter().collect(),
                        one => vec![one],
                    };
                    found.extend(actions.into_iter().filter_map(|a| a.as_str()).map(|a| (id.to_owned(), a.to_owned())));
                } else {
                    actions_under(id, value, found);
                }
            }
        }
        Value::Sequence(list) => list.iter().for_each(|v| actions_under(id, v, found)),
        _ => {}
    }
}

/// The functions only support staff invoke.
const SUPPORT_FUNCTIONS: &[&str] = &["ExportFunction", "TenantDeleteFunction"];

#[test]
fn only_the_support_role_may_invoke_the_support_functions() {
    let text = std::fs::read_to_string(repository().join("template.yaml")).unwrap();
    let template: Value = serde_norway::from_str(&text).unwrap();
    let mut actions = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        actions_under(id.as_str().unwrap(), resource, &mut actions);
    }
    let invokers: BTreeSet<&str> = actions
        .iter()
        .filter(|(_, a)| a.starts_with("lambda:Invoke") || a == "lambda:*" || a == "*")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(invokers, BTreeSet::from(["SupportRole"]), "who may invoke a function");
    let support = &template["Resources"]["SupportRole"]["Properties"];
    let trust = serde_norway::to_string(&support["AssumeRolePolicyDocument"]).unwrap();
    assert!(trust.contains("aws:MultiFactorAuthPresent"), "the support role needs MFA: {trust}");
    let functions = serde_norway::to_string(&support["Policies"]).unwrap();
    for function in SUPPORT_FUNCTIONS {
        assert!(functions.contains(function), "the support role cannot invoke {function}");
    }
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            let events = &resource["Properties"]["Events"];
            let id = id.as_str().unwrap();
            if id == "ExportFunction" {
                assert!(events.is_null(), "{id} is invoked by support only, not by an event source");
            }
            if id == "TenantDeleteFunction" {
                // Only the bus's confirmed deletions, which can purge nothing an owner did not confirm.
                let sources = events.as_mapping().map(|m| m.len()).unwrap_or_default();
                assert_eq!(sources, 1, "{id} has other event sources: {events:?}");
                let pattern = serde_norway::to_string(&events["DeletionConfirmed"]["Properties"]["Pattern"]).unwrap();
                assert!(pattern.contains("TenantDeletionConfirmed"), "{pattern}");
            }
        }
    }
}
