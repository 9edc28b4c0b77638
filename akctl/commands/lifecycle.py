"""(being written)"""

import click


def register(cli: click.Group) -> None:
    return None
