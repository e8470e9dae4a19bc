#!/usr/bin/env python3
"""Create the local stack's AWS resources in the emulator from template.yaml itself.

Reads every AWS::DynamoDB::Table, AWS::SQS::Queue and AWS::S3::Bucket in the template and
creates it (keys, indexes, TTL, redrive, encryption, public-access block) against
AWS_ENDPOINT_URL, so the local stack cannot drift from what is deployed. Idempotent: a
resource that exists is left as it is.

Prints, one per line, the KEY=VALUE environment the functions get for every variable that
the template wires to one of these resources with !Ref (table name, queue URL, bucket).

Least privilege, locally (the emulator is tools/stack/moto_server.py): with --iam-policies,
each AWS::Serverless::Function's inline Policies statements are resolved to the ARNs of the
resources created here (!GetAtt X.Arn, !Ref X, !Sub "${X.Arn}/..."), registered with the
emulator (POST /_zoom/iam) under the function's binary (Metadata.BuildProperties.Binary) and
written to that file for tools/stack/check_iam.py. Every created resource may also be stood in
for by a test's own copy named `<its name>-<suffix>` (a test's own events queue, say), which
the emulator checks as the resource itself; what the template grants is not widened. With
--iam-env-dir, each function's credentials (access key id = its binary's name) are written to
DIR/<binary>.env, the file its crate's [package.metadata.lambda.watch] env_file names.

Usage: provision.py --template template.yaml --prefix zoom-local [--env-out FILE]
                    [--iam-policies FILE] [--iam-env-dir DIR]
"""

import argparse
import json
import os
import re
import sys
import urllib.request

import boto3
import yaml


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short-form tags into their long form."""


def _tag(loader, tag, node):
    if isinstance(node, yaml.ScalarNode):
        value = node.value
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag == "Ref":
        return {"Ref": value}
    if tag == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + tag: value}


for _name in ["Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
              "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition"]:
    CfnLoader.add_constructor("!" + _name, lambda loader, node, t=_name: _tag(loader, t, node))


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
        # moto's account (every key that is not 12 digits maps to it) and the partition.
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                       "AWS::URLSuffix": "amazonaws.com"}

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

    def resource_arn(self, value):
        """(ARN, the template's text for it) of a policy statement's Resource entry."""
        if isinstance(value, str):
            return value, value
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return self.resolve(value), "!GetAtt " + ".".join(value["Fn::GetAtt"])
        if isinstance(value, dict) and "Ref" in value:
            return self.refs[value["Ref"]], f"!Ref {value['Ref']}"
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            text = value["Fn::Sub"]

            def variable(match):
                name = match.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                logical_id, _, attribute = name.partition(".")
                if attribute == "Arn" and logical_id in self.arns:
                    return self.arns[logical_id]
                if not attribute and name in self.pseudo:
                    return self.pseudo[name]
                if not attribute and name in self.refs:
                    return self.refs[name]
                raise SystemExit(f"provision: cannot resolve ${{{name}}} in a policy resource: {text}")

            return re.sub(r"\$\{([^}]+)\}", variable, text), f'!Sub "{text}"'
        raise SystemExit(f"provision: unsupported policy resource {value!r}")

    def policies(self):
        """Binary -> its function's statements, resolved, and the queues of its SQS events."""
        principals = {}
        for logical_id, resource in self.of_type("AWS::Serverless::Function"):
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if not binary:
                raise SystemExit(f"provision: {logical_id} names no Metadata.BuildProperties.Binary")
            props = resource.get("Properties", {})
            statements = []
            for policy in props.get("Policies", []) or []:
                if not isinstance(policy, dict) or "Statement" not in policy:
                    raise SystemExit(f"provision: {logical_id}: only inline policy documents are enforced "
                                     f"locally, not {policy!r}")
                for statement in listed(policy["Statement"]):
                    unknown = set(statement) - {"Sid", "Effect", "Action", "Resource"}
                    if unknown:
                        raise SystemExit(f"provision: {logical_id}: statement keys {sorted(unknown)} are not "
                                         "enforced locally")
                    resolved = [self.resource_arn(r) for r in listed(statement["Resource"])]
                    statements.append({
                        "Effect": statement["Effect"],
                        "Action": listed(statement["Action"]),
                        "Resource": [arn for arn, _ in resolved],
                        "Source": [text for _, text in resolved],
                    })
            principals[binary] = {"function": logical_id, "statements": statements}
        return principals

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


def listed(value):
    return value if isinstance(value, list) else [value]


def write_atomically(path, text):
    """So a function spawned meanwhile reads the old file or the new one, never half of one."""
    with open(f"{path}.tmp-{os.getpid()}", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(f"{path}.tmp-{os.getpid()}", path)


def register(provisioner, path):
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise SystemExit("provision: --iam-policies registers with the emulator: AWS_ENDPOINT_URL is not set")
    document = {"principals": provisioner.policies(), "stand_ins": sorted(provisioner.arns.values())}
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/_zoom/iam", data=json.dumps(document).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            registered = json.load(answer)
    except (OSError, ValueError) as error:
        raise SystemExit(f"provision: {endpoint} did not take the functions' policies (not our emulator?): {error}")
    if set(registered.get("principals", {})) != set(document["principals"]):
        raise SystemExit(f"provision: {endpoint} did not register the functions' policies (not our emulator?)")
    write_atomically(path, json.dumps(document, indent=2) + "\n")


def write_credentials(provisioner, directory):
    os.makedirs(directory, exist_ok=True)
    for binary in provisioner.policies():
        # The same text on every run: stacks running side by side share these files.
        write_atomically(os.path.join(directory, f"{binary}.env"),
                         f"AWS_ACCESS_KEY_ID={binary}\nAWS_SECRET_ACCESS_KEY=local-{binary}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--prefix", default="zoom-local")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--env-out", help="also write the environment to this file")
    parser.add_argument("--iam-policies", help="register each function's resolved statements with the emulator "
                        "and write them to this file")
    parser.add_argument("--iam-env-dir", help="write each function's credentials to DIR/<binary>.env")
    args = parser.parse_args()

    with open(args.template, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    provisioner = Provisioner(template, args.prefix, args.region)
    provisioner.tables()
    provisioner.queues()
    provisioner.buckets()
    lines = [f"{k}={v}" for k, v in sorted(provisioner.environment().items())]
    if args.iam_policies:
        register(provisioner, args.iam_policies)
    if args.iam_env_dir:
        write_credentials(provisioner, args.iam_env_dir)
    if args.env_out:
        with open(args.env_out, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
