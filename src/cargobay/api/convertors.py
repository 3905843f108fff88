"""The ``{name:row_id}`` path convertor, for every route (API and web) that takes a
numeric id in its path.

Starlette's ``int`` convertor hands its ``[0-9]+`` match to ``int()``: 5000 digits are a
ValueError there, 20 digits an OverflowError in the database. This one reads the same
digits with domain/integers.row_id: an id past the column's range becomes NO_ROW, which
no row has, so the route answers its own 404.

Importing this module registers the convertor (Starlette keeps convertors in one
table); api/params.py and web/page.py import it, so every route table sees it.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from cargobay.domain.integers import NO_ROW, row_id

ROW_ID = "row_id"


class RowIdConvertor(Convertor[int]):
    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        found = row_id(value)
        return NO_ROW if found is None else found

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor(ROW_ID, RowIdConvertor())
