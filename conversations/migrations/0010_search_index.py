"""The full-text index of turns and titles: SQLite FTS5 tables or PostgreSQL tsvector columns, and
the triggers that keep them (conversations/search/index.py). It uses that module's current SQL on
purpose: the index is the database's own structure, not Django's, and `index.ensure` keeps it as
that module describes after every migrate."""

from django.db import migrations


def install(apps, schema_editor):
    from conversations.search import index

    index.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from conversations.search import index

    index.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0009_conversation_pin'),
    ]

    operations = [
        migrations.RunPython(install, uninstall, elidable=False),
    ]
