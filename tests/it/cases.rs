//! The small inputs from real-world reports (`tests/fixtures/cases/`, each with its README):
//! each run as its report describes it, asserting what roster must do now.

use serde_json::{Value, json};

use crate::support::{Emulator, Output, Scratch, repo};

/// A case's emulator and a scratch copy of its config.
struct Case {
    emulator: Emulator,
    scratch: Scratch,
}

impl Case {
    fn start(name: &str) -> Case {
        let dir = repo().join("tests/fixtures/cases").join(name);
        let scratch = Scratch::new(&format!("case-{name}"));
        scratch.write(
            "roster.yaml",
            std::fs::read(dir.join("roster.yaml")).unwrap(),
        );
        let emulator = Emulator::start(&format!("tests/fixtures/cases/{name}/world.yaml"));
        Case { emulator, scratch }
    }

    fn roster(&self, args: &[&str]) -> Output {
        self.emulator.roster(&self.scratch.dir, args, &[])
    }

    fn plan_json(&self) -> Value {
        let out = self.roster(&["plan", "--format", "json"]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
    }
}

#[test]
fn approle_null_value_a_role_without_a_value_is_a_role() {
    let case = Case::start("approle-null-value");
    let plan = case.plan_json();
    assert_eq!(plan["summary"]["create"], 1, "{plan}");
    assert_eq!(plan["summary"]["update"], 0, "{plan}");
    assert_eq!(plan["errors"], json!([]), "{plan}");
    let explained = case.roster(&["explain", "pat.doe@example.com", "--format", "json"]);
    let explained: Value = serde_json::from_str(&explained.stdout).unwrap();
    assert_eq!(
        explained["roles"]["profile"], "Standard User",
        "{explained}"
    );
    assert!(
        !explained["scope"]["app_roles"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{explained}"
    );
}
