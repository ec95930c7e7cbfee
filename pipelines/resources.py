"""Dagster resources. All environment switching happens in transforms.settings; this wraps it
so assets get a typed resource, and tests can point a run at any home and store."""


from contextlib import contextmanager
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

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        """For the whole run: hold the home's warehouse lock (pipelines/runs.py), waiting
        while another run holds it, so that a run launched by the schedule or the UI never
        interleaves its steps with a command-line run. A command-line run already holds it."""
        from pipelines.runs import warehouse_lock

        run = context.run
        holder = {"run_id": run.run_id if run else "",
                  "command": f"Dagster run of {run.job_name}" if run else "Dagster run"}
        log = context.log.info if context.log else None
        with warehouse_lock(self.settings().home, holder, wait=True, say=log):
            yield self

    def warehouse(self, read_only: bool = False):
        from transforms.warehouse import connect

        s = self.settings()
        return connect(Path(s.warehouse_path), read_only=read_only)
