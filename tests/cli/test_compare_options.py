"""`poolstride compare`'s options come from CompareConfig's field declarations, once."""

from poolstride.cli.compare import compare
from poolstride.experiment.config import CompareConfig, RunConfig, cli_options
from poolstride.experiment.store import RunRecord
from poolstride.report.run import reproduce_command


def _click_flags():
    return {opt for p in compare.params for opt in (*p.opts, *p.secondary_opts)}


def test_every_option_field_is_a_cli_option_with_its_help():
    flags = _click_flags()
    by_name = {p.name: p for p in compare.params}
    for name, _default, how in cli_options(CompareConfig):
        assert how.flag_of(name) in flags, name
        assert by_name[name].help.startswith(how.help), name
    # and nothing else but the file and verbosity switches
    assert set(by_name) - {n for n, _, _ in cli_options(CompareConfig)} == {
        "config_file",
        "quiet",
        "dry_run",
        "no_estimate",
    }


def test_choices_on_the_command_line_are_the_config_choices():
    by_name = {p.name: p for p in compare.params}
    for name, _default, how in cli_options(CompareConfig):
        if how.choices is not None:
            assert list(by_name[name].type.choices) == list(how.choices), name


def test_the_reproduce_command_uses_only_real_flags():
    cfg = RunConfig(
        variant="max", lr=0.01, batch_size=64, weight_decay=1e-4, amp="bf16", train_size=500
    )
    record = RunRecord(key=cfg.key, status="finished", config=cfg.to_dict(), metrics={})
    command = reproduce_command([record])
    flags = _click_flags()
    used = [word for word in command.split() if word.startswith("--")]
    assert used and set(used) <= flags, set(used) - flags
    assert "--amp bf16" in command and "--batch-size 64" in command
