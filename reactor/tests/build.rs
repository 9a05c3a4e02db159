//! Workflows are checked when they are built; each mistake is an error that names what is wrong.

use ferrocast_reactor::{Arg, BuildError, Run, RunError, Step, Workflow};
use serde_json::json;
use std::sync::Arc;

fn message(result: Result<Workflow, BuildError>) -> String {
    result.expect_err("the workflow is refused").to_string()
}

#[test]
fn a_cycle_is_refused_and_named_along_its_path() {
    let result = Workflow::builder("loop")
        .step("start", Step::action("a"))
        .step("fetch", Step::action("a").arg("x", Arg::result("start")).arg("y", Arg::result("store")))
        .step("parse", Step::action("a").arg("raw", Arg::result("fetch")))
        .step("store", Step::action("a").arg("parsed", Arg::result("parse")))
        .build();
    assert_eq!(
        result.as_ref().err(),
        Some(&BuildError::Cycle {
            workflow: "loop".into(),
            cycle: vec!["fetch".into(), "store".into(), "parse".into(), "fetch".into()],
        })
    );
    assert_eq!(message(result), "workflow 'loop' has a cycle: fetch -> store -> parse -> fetch");
}

#[test]
fn a_step_reading_itself_is_a_cycle() {
    let result = Workflow::builder("w").step("a", Step::action("a").arg("me", Arg::result("a"))).build();
    assert_eq!(message(result), "workflow 'w' has a cycle: a -> a");
}

#[test]
fn a_map_over_its_own_result_is_a_cycle() {
    let result = Workflow::builder("w").step("m", Step::map("each", Arg::result("m"), 2)).build();
    assert_eq!(message(result), "workflow 'w' has a cycle: m -> m");
}

#[test]
fn unknown_references_name_the_step_argument_and_target() {
    let unknown_input = Workflow::builder("orders")
        .input("order")
        .step("charge", Step::action("charge").arg("amount", Arg::input("total")))
        .build();
    assert_eq!(
        message(unknown_input),
        "argument 'amount' of step 'charge' reads input 'total', which workflow 'orders' does not declare"
    );
    let unknown_step =
        Workflow::builder("orders").step("ship", Step::action("ship").arg("paid", Arg::result("charge"))).build();
    assert_eq!(
        message(unknown_step),
        "argument 'paid' of step 'ship' reads the result of step 'charge', which workflow 'orders' does not have"
    );
    let unknown_collection = Workflow::builder("orders").step("each", Step::map("a", Arg::input("lines"), 1)).build();
    assert_eq!(
        message(unknown_collection),
        "argument 'over' of step 'each' reads input 'lines', which workflow 'orders' does not declare"
    );
}

#[test]
fn duplicates_and_impossible_options_are_refused() {
    let cases = [
        (Workflow::builder("w").build(), "workflow 'w' has no steps"),
        (
            Workflow::builder("w").step("a", Step::action("x")).step("a", Step::action("y")).build(),
            "workflow 'w' declares step 'a' twice",
        ),
        (
            Workflow::builder("w").input("i").input("i").step("a", Step::action("x")).build(),
            "workflow 'w' declares input 'i' twice",
        ),
        (
            Workflow::builder("w").step("a", Step::action("x").arg("v", Arg::value(1)).arg("v", Arg::value(2))).build(),
            "step 'a' of workflow 'w' declares argument 'v' twice",
        ),
        (
            Workflow::builder("w").max_concurrency(0).step("a", Step::action("x")).build(),
            "workflow 'w' has max_concurrency 0: at least one step must be able to run",
        ),
        (
            Workflow::builder("w").step("m", Step::map("x", Arg::value(json!([1])), 0)).build(),
            "map step 'm' of workflow 'w' has batch size 0: a batch needs at least one element",
        ),
        (
            Workflow::builder("w")
                .step("m", Step::map("x", Arg::value(json!([1])), 1).arg("item", Arg::value(0)))
                .build(),
            "map step 'm' of workflow 'w' declares argument 'item', which the map uses to pass each element",
        ),
        (
            Workflow::builder("w").step("a", Step::action("x")).returns("b").build(),
            "workflow 'w' returns the result of step 'b', which it does not have",
        ),
    ];
    for (result, expected) in cases {
        assert_eq!(message(result), expected);
    }
}

#[test]
fn a_sub_workflow_step_must_pass_exactly_the_childs_inputs() {
    let child = Arc::new(
        Workflow::builder("child").input("a").input("b").step("s", Step::action("x")).build().expect("child builds"),
    );
    let wrong = Workflow::builder("parent")
        .step("sub", Step::workflow(Arc::clone(&child)).arg("a", Arg::value(1)).arg("c", Arg::value(2)))
        .build();
    assert_eq!(
        message(wrong),
        "step 'sub' of workflow 'parent' runs workflow 'child', whose inputs are [a, b] but the step's arguments are \
         [a, c]"
    );
    let undoable = Workflow::builder("parent")
        .step("sub", Step::workflow(child).arg("a", Arg::value(1)).arg("b", Arg::value(2)).with_undo())
        .build();
    assert!(message(undoable).contains("cannot have an undo or a compensation"));
}

#[test]
fn a_built_workflow_describes_itself() {
    let workflow = Workflow::builder("w")
        .input("i")
        .max_concurrency(3)
        .step("b", Step::action("bee").arg("a", Arg::result("a")).max_retries(5).timeout_ms(250).with_undo())
        .step("a", Step::action("ay").arg("i", Arg::input("i")))
        .returns("b")
        .build()
        .expect("it builds");
    assert_eq!(workflow.step_names().collect::<Vec<_>>(), ["b", "a"]);
    assert_eq!(workflow.returns(), "b");
    assert_eq!(workflow.max_concurrency(), 3);
    let b = workflow.step("b").expect("b exists");
    assert_eq!((b.retries_allowed(), b.attempt_timeout_ms(), b.has_undo()), (5, Some(250), true));
    assert_eq!(b.action_name(), Some("bee"));
}

#[test]
fn a_run_needs_exactly_the_declared_inputs() {
    let workflow =
        Arc::new(Workflow::builder("w").input("user").step("a", Step::action("x")).build().expect("it builds"));
    let missing = Run::new(Arc::clone(&workflow), "r", serde_json::Map::new(), 0, 0).expect_err("refused");
    assert_eq!(missing, RunError::MissingInput { workflow: "w".into(), input: "user".into() });
    assert_eq!(missing.to_string(), "workflow 'w' needs input 'user', which was not given");
    let inputs = json!({ "user": 1, "usr": 2 }).as_object().cloned().unwrap_or_default();
    let unexpected = Run::new(workflow, "r", inputs, 0, 0).expect_err("refused");
    assert_eq!(unexpected.to_string(), "workflow 'w' has no input 'usr' (its inputs are [user])");
}
