"""`rag` command line: one module per command; this one maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from rag.cli.ask import ask, search
from rag.cli.chat import chat
from rag.cli.common import EXIT_INTERRUPTED, debug_enabled, exit_code, fail
from rag.cli.corpus import add, list_command, remove
from rag.cli.eval import eval_command
from rag.cli.index import index
from rag.cli.serve import serve
from rag.cli.train import train
from rag.errors import RagError


class _Group(click.Group):
    """Turns domain errors into one readable line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as exc:
            fail(str(exc), exit_code(exc))
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`rag list | head`): not an error to report. Point stdout
            # at /dev/null so the interpreter's final flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:
            if debug_enabled():
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (set RAG_DEBUG=1 for a traceback)")


@click.group(cls=_Group)
@click.version_option(package_name="nato-rag")
def cli() -> None:
    """Cited answers from news articles about NATO's arrangements for aid to Ukraine."""


for command in (ask, chat, search, index, add, remove, list_command, serve, eval_command, train):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="rag")
