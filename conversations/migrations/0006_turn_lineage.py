"""Each turn's depth and chain (conversations/lineage.py), filled in for the turns there are."""
from django.db import migrations, models

BATCH = 2000


def fill(apps, schema_editor):
    # The rule of lineage.lineage(), kept here as it was when this migration was written.
    Turn = apps.get_model("conversations", "Turn")
    conversation_ids = Turn.objects.values_list("conversation_id", flat=True).distinct().order_by()
    for conversation_id in conversation_ids.iterator():
        children = {}
        for turn_id, parent_id in Turn.objects.filter(conversation_id=conversation_id).values_list("id", "parent_id"):
            children.setdefault(parent_id, []).append(turn_id)
        placed = []
        stack = [(root, 0, None) for root in children.get(None, ())]
        while stack:
            turn_id, depth, chain = stack.pop()
            placed.append(Turn(id=turn_id, depth=depth, chain=chain))
            for index, child in enumerate(sorted(children.get(turn_id, ()))):
                stack.append((child, depth + 1, (chain or turn_id) if index == 0 else None))
        Turn.objects.bulk_update(placed, ["depth", "chain"], batch_size=BATCH)


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0005_reply_ownership"),
    ]

    operations = [
        migrations.AddField(
            model_name="turn",
            name="depth",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="turn",
            name="chain",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="turn",
            constraint=models.UniqueConstraint(fields=("chain", "depth"), name="turn_chain_depth"),
        ),
    ]
