//! The README's console examples run as they are written (`trycmd`): a `$ roster ...` line is
//! run from the repository's root and its output must be the lines under it.

#[test]
fn readme_console_examples_run_as_written() {
    trycmd::TestCases::new()
        .default_bin_name("roster")
        .register_bin("roster", trycmd::cargo::cargo_bin!("roster"))
        .env("NO_COLOR", "1")
        .case("README.md");
}
