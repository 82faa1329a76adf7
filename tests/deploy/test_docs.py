"""The partner and operations guides say what the code does: examples validate
against the topic schemas, the ten-line consumer is ten lines of Python, the
webhook verifier accepts the Standard Webhooks test vector and refuses forgeries,
and every metric and variable named exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from deploy import contracts
from tests.deploy.checks import MLP_VAR, documented_variables, undocumented

ROOT = Path(__file__).resolve().parents[2]
PARTNERS = (ROOT / "docs" / "partners.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
METRIC_DEF = re.compile(r"(?:Counter|Gauge|Histogram|Summary)\(\s*\"(mlp_[a-z0-9_]+)\"")


def blocks(text: str, info: str) -> list[str]:
    return re.findall(rf"```{re.escape(info)}\n(.*?)```", text, flags=re.S)


def test_guides_are_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert "docs/partners.md" in readme and "docs/operations.md" in readme


def test_payload_examples_validate_against_their_topic_schema():
    found = re.findall(r"```json topic=([a-z._]+)\n(.*?)```", PARTNERS, flags=re.S)
    assert {topic for topic, _ in found} >= {"event.published", "event.cancelled"}
    import json

    for topic, body in found:
        assert contracts.payload_errors(topic, json.loads(body)) == [], topic


def test_the_consumer_is_ten_lines_of_python():
    [consumer] = [b for b in blocks(PARTNERS, "python") if "KafkaConsumer" in b]
    assert len([line for line in consumer.splitlines() if line.strip()]) <= 10
    ast.parse(consumer)


def _verify():
    [code] = [b for b in blocks(PARTNERS, "python") if "def verify" in b]
    namespace: dict = {}
    exec(compile(code, "partners.md", "exec"), namespace)
    return namespace["verify"]


def test_the_webhook_verifier_accepts_the_standard_webhooks_vector_and_refuses_forgeries():
    verify = _verify()
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    forever = 10**10
    assert verify(secret, headers, body, tolerance_s=forever)
    rotated = {**headers, "webhook-signature": "v1,bm90IGl0 " + headers["webhook-signature"]}
    assert verify(secret, rotated, body, tolerance_s=forever)
    assert not verify(secret, headers, body + b" ", tolerance_s=forever)
    assert not verify(secret, {**headers, "webhook-id": "msg_other"}, body, tolerance_s=forever)
    assert not verify("whsec_" + "A" * 32, headers, body, tolerance_s=forever)
    assert not verify(secret, headers, body)  # 2021: far too old, a replay


def test_every_metric_in_code_is_documented_and_every_documented_one_exists():
    defined = set()
    for path in [*ROOT.glob("shared/*.py"), *ROOT.glob("services/*/*.py")]:
        defined |= set(METRIC_DEF.findall(path.read_text()))
    documented = set(re.findall(r"`(mlp_[a-z0-9_]+)`", OPERATIONS.split("## Metrics", 1)[1]))
    assert defined, "no metrics found in code"
    assert defined <= documented, defined - documented
    assert documented <= defined, documented - defined


def test_every_variable_the_guides_name_is_documented():
    names = set(MLP_VAR.findall(OPERATIONS + PARTNERS))
    assert undocumented(names, documented_variables()) == []


def test_the_metric_check_catches_an_undocumented_metric(tmp_path):
    fake = 'X = Gauge("mlp_dlq_size", "records in the DLQ")'
    assert METRIC_DEF.findall(fake) == ["mlp_dlq_size"]
    assert "mlp_dlq_size" not in set(re.findall(r"`(mlp_[a-z0-9_]+)`", OPERATIONS))


def test_variables_count_as_documented_in_any_readme_or_guide_that_exists(tmp_path):
    (tmp_path / "README.md").write_text("`MLP_ENV`\n")
    (tmp_path / "services" / "surveys").mkdir(parents=True)
    (tmp_path / "services" / "surveys" / "README.md").write_text("`MLP_SURVEYS_LIMIT`\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "operations.md").write_text("`MLP_LOG_LEVEL`\n")
    text = documented_variables(tmp_path)  # no shared/config.py here: tolerated
    names = {"MLP_ENV", "MLP_SURVEYS_LIMIT", "MLP_LOG_LEVEL", "MLP_NOWHERE"}
    assert undocumented(names, text) == ["MLP_NOWHERE"]
