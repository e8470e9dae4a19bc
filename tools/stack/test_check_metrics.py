#!/usr/bin/env python3
"""Unit tests of tools/stack/check_metrics.py (run by `make template`):

    .venv/bin/python -m unittest tools/stack/test_check_metrics.py
"""

import contextlib
import glob
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import check_metrics as cm  # noqa: E402


def emf(function, metrics, dimension_sets, **fields):
    """An EMF line as shared/src/metrics.rs writes it."""
    doc = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
        "Namespace": "ZoomConnector", "Dimensions": dimension_sets,
        "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics]}]},
        "Function": function}
    doc.update(fields)
    for name in metrics:
        doc[name] = 1.0
    return json.dumps(doc)


LOG = [
    "[cargo-lambda] function zoom-auth started",
    emf("zoom-auth", ["TokenRefresh"], [["Function", "Outcome"]], Outcome="success"),
    "   " + emf("zoom-webhooks", ["WebhookRejected"], [["Function", "Reason"]], Reason="unauthentic"),
    emf("zoom-meetings", ["Latency", "Requests"], [["Function", "Route"], ["Function", "Route", "Status"]],
        Route="POST /api/zoom/meetings", Status="201"),
    '{"_aws": broken json',
    '{"level":"INFO","message":"request"}',
]


def alarm(**props):
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def dashboard(*rows):
    body = {"widgets": [{"type": "metric", "properties": {"title": "w", "metrics": list(rows)}}]}
    return {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": {"Fn::Sub": json.dumps(body)}}}


def classic(name, **dims):
    return alarm(Namespace="ZoomConnector", MetricName=name,
                 Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])


class Check(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "watch.log")
        with open(self.log, "w", encoding="utf-8") as handle:
            handle.write("\n".join(LOG) + "\n")
        self.seen, self.lines, self.documents = cm.emitted([self.log])

    def tearDown(self):
        self.dir.cleanup()

    def problems(self, resources):
        return cm.check(cm.references({"Resources": resources}), self.seen)[0]

    def test_reads_only_emf_lines(self):
        self.assertEqual(self.documents, 3)
        self.assertEqual(self.lines, len(LOG))
        self.assertIn(("ZoomConnector", "Requests", frozenset({"Function", "Route", "Status"})), self.seen)

    def test_an_emitted_metric_with_its_whole_dimension_set_passes(self):
        self.assertEqual(self.problems({"A": classic("WebhookRejected", Function="zoom-webhooks",
                                                     Reason="unauthentic")}), [])

    def test_a_dimension_set_that_is_not_the_emitted_one_fails(self):
        # WebhookRejected by Reason alone is another metric: it would never have data.
        [problem] = self.problems({"A": classic("WebhookRejected", Reason="unauthentic")})
        self.assertIn("no EMF line has this dimension set (emitted by [Function, Reason])", problem)

    def test_a_name_never_emitted_fails(self):
        [problem] = self.problems({"A": classic("WebhookRejectd", Function="zoom-webhooks", Reason="x")})
        self.assertIn("never emitted at all", problem)

    def test_a_value_never_emitted_fails_unless_it_is_a_listed_failure_path(self):
        resources = {"A": classic("WebhookRejected", Function="zoom-webhooks", Reason="queue_unavailable")}
        [problem] = self.problems(resources)
        self.assertIn("emitted, but only with Function=zoom-webhooks, Reason=unauthentic", problem)
        key = ("WebhookRejected", (("Function", "zoom-webhooks"), ("Reason", "queue_unavailable")))
        cm.FAILURE_PATHS[key] = "the queue is down in no test"
        try:
            problems, exempted, _, _ = cm.check(cm.references({"Resources": resources}), self.seen)
            self.assertEqual(problems, [])
            self.assertEqual(len(exempted), 1)
        finally:
            del cm.FAILURE_PATHS[key]

    def test_a_wrong_function_fails(self):
        self.assertEqual(len(self.problems({"A": classic("TokenRefresh", Function="zoom-users",
                                                         Outcome="success")})), 1)

    def test_metric_stats_and_expressions_of_an_alarm(self):
        resources = {"A": alarm(Metrics=[
            {"Id": "e", "Expression": "SUM([m, n])"},
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "ZoomConnector", "MetricName": "Requests",
                                                  "Dimensions": [{"Name": "Function", "Value": "zoom-meetings"},
                                                                 {"Name": "Route", "Value": "POST /api/zoom/meetings"}]}}},
            {"Id": "n", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                                  "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "F"}}]}}},
        ])}
        refs = cm.references({"Resources": resources})
        self.assertEqual([r.namespace for r in refs], ["ZoomConnector", "AWS/Lambda"])
        problems, _, checked, aws = cm.check(refs, self.seen)
        self.assertEqual((problems, checked, aws), ([], 1, 1))

    def test_metrics_insights_queries(self):
        [ref] = cm.expression("q", "SELECT SUM(TokenRefresh) FROM SCHEMA(ZoomConnector, Function, Outcome) "
                                   "WHERE Outcome = 'success'")
        self.assertEqual((ref.namespace, ref.name, ref.dimensions, ref.values),
                         ("ZoomConnector", "TokenRefresh", frozenset({"Function", "Outcome"}), {"Outcome": "success"}))
        [ref] = cm.expression("q", 'SELECT MAX(Latency) FROM "ZoomConnector" GROUP BY Route')
        self.assertIsNone(ref.dimensions)
        self.assertEqual(cm.check([ref], self.seen)[0], [])
        bad = "SELECT SUM(TokenRefresh) FROM SCHEMA(ZoomConnector, Function, Outcome) WHERE Outcome = 'failure'"
        self.assertEqual(len(cm.check(cm.expression("q", bad), self.seen)[0]), 1)
        with self.assertRaises(ValueError):
            cm.expression("q", "SELECT SUM(X) FROM SCHEMA(ZoomConnector, A) WHERE A = 'b' OR A = 'c'")

    def test_dashboard_rows_searches_and_the_dot_shorthand(self):
        resources = {"D": dashboard(
            ["ZoomConnector", "Requests", "Function", "zoom-meetings", "Route", "POST /api/zoom/meetings",
             {"stat": "Sum"}],
            [".", ".", ".", ".", ".", ".", "Status", "201"],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${EventsQueue.QueueName}"],
            [{"expression": "SUM(SEARCH('{ZoomConnector,Function,Outcome} MetricName=\"TokenRefresh\" "
                            "Outcome=\"success\"', 'Sum', 300))", "id": "ok"}],
            [{"expression": "100 * ok / 2", "id": "rate"}],
        )}
        refs = cm.references({"Resources": resources})
        self.assertEqual([(r.name, len(r.dimensions)) for r in refs],
                         [("Requests", 2), ("Requests", 3), ("ApproximateNumberOfMessagesVisible", 1),
                          ("TokenRefresh", 2)])
        self.assertEqual(refs[1].values["Status"], "201")
        self.assertEqual(cm.check(refs, self.seen)[0], [])
        search = {"D": dashboard([{"expression": "SEARCH('{ZoomConnector,Route} MetricName=\"Latency\"', "
                                                 "'p99', 300)"}])}
        self.assertEqual(len(self.problems(search)), 1)

    def test_main_fails_only_on_the_full_suite(self):
        template = os.path.join(self.dir.name, "template.yaml")
        with open(template, "w", encoding="utf-8") as handle:
            handle.write("Resources:\n  A:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n"
                         "      Namespace: ZoomConnector\n      MetricName: EventInvalid\n"
                         "      Dimensions:\n        - Name: Function\n          Value: zoom-analytics-processor\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            self.assertEqual(cm.main(["--template", template, self.log]), 0)
            self.assertEqual(cm.main(["--template", template, "--full", self.log]), 1)
        self.assertIn("NOT EMITTED A: EventInvalid by [Function] with Function=zoom-analytics-processor", out.getvalue())


class Template(unittest.TestCase):
    """The project's own template: every reference parses, and names a metric the code writes."""

    def test_every_metric_the_template_names_is_written_by_the_code(self):
        refs = cm.references(cm.load_template(os.path.join(ROOT, "template.yaml")))
        ours = [r for r in refs if r.namespace == cm.NAMESPACE]
        self.assertGreater(len(ours), 10)
        source = ""
        for path in glob.glob(os.path.join(ROOT, "shared/src/**/*.rs"), recursive=True) + \
                glob.glob(os.path.join(ROOT, "functions/*/src/**/*.rs"), recursive=True):
            with open(path, encoding="utf-8") as handle:
                source += handle.read()
        for ref in ours:
            self.assertIn(f'"{ref.name}"', source, f"{ref.source}: no code writes {ref.name}")
            self.assertIn("Function", ref.dimensions or {"Function"},
                          f"{ref.source}: every EMF metric has the Function dimension")
            for name in ref.dimensions or ():
                self.assertIn(f'"{name}"', source, f"{ref.source}: no code writes dimension {name}")


if __name__ == "__main__":
    unittest.main()
