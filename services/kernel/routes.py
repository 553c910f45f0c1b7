"""Each station's routing model (派单建议), kept in process: its 权责清单 and past assignments.

The duty list lives in `bot_settings` under `duty_list:<station id>` (JSON: the parsed rules,
the file they came from, when), written whole by an import or a staff command. The model is
built on first use from that list and the station's past assignments to units (tasks joined to
their opinions; bounced ones were the wrong unit and are left out), learns each new assignment as it is made, and is rebuilt when the list
changes. Another process's assignments reach it at its next rebuild: a suggestion is only a
suggestion, staff choose.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.routing import DutyRule, RoutingModel
from domain.states import TaskStatus
from storage.models import Opinion, Setting, Task, Unit
from storage.upsert import insert_for

HISTORY_LIMIT = 5000  # most recent assignments a model learns from at start


def duty_key(station_id: int) -> str:
    return f"duty_list:{station_id}"


async def load_rules(s: AsyncSession, station_id: int) -> list[DutyRule]:
    raw = (
        await s.execute(select(Setting.value).where(Setting.key == duty_key(station_id)))
    ).scalar_one_or_none()
    if not raw:
        return []
    data: dict[str, Any] = json.loads(raw)
    return [
        DutyRule(
            r["unit"], tuple(r.get("keywords", ())), tuple(r.get("themes", ())), r.get("note", "")
        )
        for r in data.get("rules", [])
    ]


async def save_rules(
    s: AsyncSession, station_id: int, rules: list[DutyRule], source: str, at: datetime
) -> None:
    value = json.dumps(
        {
            "source": source,
            "at": at.isoformat(),
            "rules": [
                {
                    "unit": r.unit,
                    "keywords": list(r.keywords),
                    "themes": list(r.themes),
                    "note": r.note,
                }
                for r in rules
            ],
        },
        ensure_ascii=False,
    )
    await s.execute(
        insert_for(s, Setting)
        .values(key=duty_key(station_id), value=value)
        .on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )


class StationRoutes:
    """Per-station routing models (the event loop's: not thread-safe)."""

    def __init__(self) -> None:
        self._models: dict[int, RoutingModel] = {}

    async def model(self, s: AsyncSession, station_id: int) -> RoutingModel:
        model = self._models.get(station_id)
        if model is not None:
            return model
        rules = await load_rules(s, station_id)
        past = (
            await s.execute(
                select(Opinion.text, Unit.name)
                .join(Task, Task.opinion_id == Opinion.id)
                .join(Unit, Unit.id == Task.assignee_unit_id)
                .where(Task.station_id == station_id, Task.status != TaskStatus.BOUNCED)
                .order_by(Task.id.desc())
                .limit(HISTORY_LIMIT)
            )
        ).all()
        model = RoutingModel.from_rules(rules)
        model.learn((text, unit) for text, unit in reversed(past))
        return self._models.setdefault(station_id, model)

    def learn(self, station_id: int, text: str, unit: str) -> None:
        """An assignment just made (a model not built yet reads it from the tables)."""
        model = self._models.get(station_id)
        if model is not None:
            model.learn_one(text, unit)

    def reset(self, station_id: int) -> None:
        """The duty list changed: rebuild on next use."""
        self._models.pop(station_id, None)
