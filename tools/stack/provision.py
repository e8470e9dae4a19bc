#!/usr/bin/env python3
"""Create the local stack's AWS resources in the emulator from template.yaml itself.

Reads every AWS::DynamoDB::Table, AWS::SQS::Queue and AWS::S3::Bucket in the template and
creates it (keys, indexes, TTL, redrive, encryption, public-access block) against
AWS_ENDPOINT_URL, so the local stack cannot drift from what is deployed. Idempotent: a
resource that exists is left as it is.

Prints, one per line, the KEY=VALUE environment the functions get for every variable that
the template wires to one of these resources with !Ref (table name, queue URL, bucket).

Usage: provision.py --template template.yaml --prefix zoom-local [--env-out FILE]
"""

import argparse
import json
import re
import sys

import boto3
import yaml


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short-form tags into their long form."""


def _tag(tag, node):
    if isinstance(node, yaml.ScalarNode):
        value = node.value
    elif isinstance(node, yaml.SequenceNode):
        value = CfnLoader.construct_sequence(CfnLoader, node, deep=True)
    else:
        value = CfnLoader.construct_mapping(CfnLoader, node, deep=True)
    if tag == "Ref":
        return {"Ref": value}
    if tag == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + tag: value}


for _name in ["Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
              "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition"]:
    CfnLoader.add_constructor("!" + _name, lambda loader, node, t=_name: _tag(t, node))


def kebab(logical_id):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


class Provisioner:
    def __init__(self, template, prefix, region):
        self.template = template
        self.prefix = prefix
        self.resources = template.get("Resources", {})
        self.ddb = boto3.client("dynamodb", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.s3 = boto3.client("s3", region_name=region)
        self.refs = {}  # logical id -> value of !Ref
        self.arns = {}  # logical id -> Arn attribute

    def name(self, logical_id):
        return f"{self.prefix}-{kebab(logical_id)}"

    def of_type(self, kind):
        return [(lid, r) for lid, r in self.resources.items() if r.get("Type") == kind]

    def resolve(self, value):
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise SystemExit(f"provision: unsupported attribute {logical_id}.{attribute}")
            return self.arns[logical_id]
        if isinstance(value, dict) and "Ref" in value:
            return self.refs[value["Ref"]]
        return value

    def tables(self):
        for logical_id, resource in self.of_type("AWS::DynamoDB::Table"):
            props = resource["Properties"]
            name = self.name(logical_id)
            existing = self.ddb.list_tables()["TableNames"]
            if name not in existing:
                args = {
                    "TableName": name,
                    "AttributeDefinitions": props["AttributeDefinitions"],
                    "KeySchema": props["KeySchema"],
                    "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
                }
                if props.get("GlobalSecondaryIndexes"):
                    args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
                if props.get("SSESpecification", {}).get("SSEEnabled"):
                    args["SSESpecification"] = {"Enabled": True}
                self.ddb.create_table(**args)
                ttl = props.get("TimeToLiveSpecification")
                if ttl and ttl.get("Enabled"):
                    self.ddb.update_time_to_live(
                        TableName=name,
                        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                    )
            described = self.ddb.describe_table(TableName=name)["Table"]
            self.refs[logical_id] = name
            self.arns[logical_id] = described["TableArn"]

    def queues(self):
        pending = self.of_type("AWS::SQS::Queue")
        # A queue whose redrive names another queue is created after it.
        pending.sort(key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}))
        for logical_id, resource in pending:
            props = resource.get("Properties", {})
            attributes = {}
            for key in ["VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds",
                        "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled"]:
                if key in props:
                    attributes[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
            if "RedrivePolicy" in props:
                policy = dict(props["RedrivePolicy"])
                policy["deadLetterTargetArn"] = self.resolve(policy["deadLetterTargetArn"])
                attributes["RedrivePolicy"] = json.dumps(policy)
            url = self.sqs.create_queue(QueueName=self.name(logical_id), Attributes=attributes)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.refs[logical_id] = url
            self.arns[logical_id] = arn

    def buckets(self):
        for logical_id, resource in self.of_type("AWS::S3::Bucket"):
            props = resource.get("Properties", {})
            name = self.name(logical_id)
            existing = [b["Name"] for b in self.s3.list_buckets().get("Buckets", [])]
            if name not in existing:
                self.s3.create_bucket(Bucket=name)
            # Both calls are idempotent: a half-provisioned bucket is completed on the next run.
            if "BucketEncryption" in props:
                # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault.
                rules = [
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
                self.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
            if "PublicAccessBlockConfiguration" in props:
                self.s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
            self.refs[logical_id] = name
            self.arns[logical_id] = f"arn:aws:s3:::{name}"

    def environment(self):
        """Variables wired to a created resource with !Ref, from Globals and every function."""
        sources = [self.template.get("Globals", {}).get("Function", {})]
        sources += [r.get("Properties", {}) for _, r in self.of_type("AWS::Serverless::Function")]
        env = {}
        for source in sources:
            for key, value in source.get("Environment", {}).get("Variables", {}).items():
                if isinstance(value, dict) and value.get("Ref") in self.refs:
                    env[key] = self.refs[value["Ref"]]
        return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--prefix", default="zoom-local")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--env-out", help="also write the environment to this file")
    args = parser.parse_args()

    with open(args.template, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    provisioner = Provisioner(template, args.prefix, args.region)
    provisioner.tables()
    provisioner.queues()
    provisioner.buckets()
    lines = [f"{k}={v}" for k, v in sorted(provisioner.environment().items())]
    if args.env_out:
        with open(args.env_out, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
