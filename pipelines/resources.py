"""Dagster resources. All environment switching happens in transforms.settings; this wraps it
so assets get a typed resource, and tests can point a run at any home and store."""


from pathlib import Path

import dagster as dg

from transforms.settings import Settings, load_settings, owner_only_files


class LpstatResource(dg.ConfigurableResource):
    """Where the warehouse and releases live and which store to read.

    Empty fields fall back to the LPSTAT_* environment (read when a run starts, never at
    import time).
    """

    home: str = ""
    source_url: str = ""
    pseudonym_key: str = ""

    def settings(self) -> Settings:
        import os

        owner_only_files()  # a Dagster run worker creates files under the home too
        env = dict(os.environ)
        if self.home:
            env["LPSTAT_HOME"] = self.home
        if self.source_url:
            env["LPSTAT_SOURCE_URL"] = self.source_url
        if self.pseudonym_key:
            env["LPSTAT_PSEUDONYM_KEY"] = self.pseudonym_key
        return load_settings(env)

    def warehouse(self, read_only: bool = False):
        from transforms.warehouse import connect

        s = self.settings()
        return connect(Path(s.warehouse_path), read_only=read_only)
