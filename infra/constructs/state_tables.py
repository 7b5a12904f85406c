"""DynamoDB tables from the contract's table specs: on-demand, PITR, TTL where the spec has one."""

from collections.abc import Iterable

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from contract.tables import TableName, TableSpec


class StateTables(Construct):
    """One table per spec; a spec added to the contract appears here without edits.

    Each is named ``<name_prefix>-<spec name>`` (``charla-dev-state``): retained on ``cdk destroy``,
    a table with a generated name would be hard to find, keep billing, and leave a redeploy
    starting empty; a fixed name says what is left, and a redeploy must reattach or remove it
    (docs/DEPLOY.md, "Tear down").

    Attributes:
        tables: Each table by its contract name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        specs: Iterable[TableSpec],
        name_prefix: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[TableName, dynamodb.Table] = {}
        for spec in specs:
            self.tables[spec.name] = dynamodb.Table(
                self,
                spec.name.name.title(),
                table_name=f"{name_prefix}-{spec.name.value}",
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=(
                    dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
                    if spec.sort_key
                    else None
                ),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                removal_policy=removal_policy,
            )
