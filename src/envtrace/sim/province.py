"""The simulated province: which stations exist, deterministically from a seed.

Station ``i`` of seed ``s`` is the same station whatever the number of stations asked for, so the
registry of a 5-station run is the first five rows of a 50-station run with the same seed and kinds.

MN (HJ 212-2017/2025: 24 characters 0-9 A-F)::

    E7  SSSS  TT  IIIIIIII  CCCCCCCC
    |   |     |   |         +-- check: BLAKE2b(seed, i) (looks like an EPC-96 serial)
    |   |     |   +------------ station index i, hexadecimal
    |   |     +---------------- the station's ST code (31 flue gas, 32 wastewater, 22 ambient)
    |   +---------------------- BLAKE2b(seed), so runs with different seeds never share an MN
    +-------------------------- envtrace simulator marker

PW is 6 decimal digits and the SM4 key 16 letters and digits, both from BLAKE2b(seed, i, ...): no
fixed or patterned keys (HJ 212-2025 §6.4.3 f/g).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from envtrace.sim.ambient import AMBIENT_CODES, AmbientModel, AmbientRegion, AmbientSpec
from envtrace.sim.flue_gas import FLUE_GAS_CODES, FlueGasModel, FlueGasSpec
from envtrace.sim.noise import Stream
from envtrace.sim.physics import AMBIENT_FACTORS, FACTORS, Factor, Sample
from envtrace.sim.wastewater import WATER_CODES, WastewaterModel, WastewaterSpec

__all__ = [
    "KINDS",
    "REGISTRY_COLUMNS",
    "Model",
    "Province",
    "StationConfig",
    "build_stations",
    "read_registry",
    "stations_from_rows",
    "write_registry",
]

KINDS = ("flue_gas", "water", "ambient")
ST_OF_KIND = {"flue_gas": "31", "water": "32", "ambient": "22"}
EDITIONS = ("2017", "2025", "mixed")

Spec = FlueGasSpec | WastewaterSpec | AmbientSpec
Model = FlueGasModel | WastewaterModel | AmbientModel

# (name, name in pinyin, lat, lon, PM2.5 base level): Jiangsu's thirteen prefecture-level cities.
CITIES = (
    ("南京", "Nanjing", 32.06, 118.80, 36.0),
    ("无锡", "Wuxi", 31.49, 120.31, 34.0),
    ("徐州", "Xuzhou", 34.26, 117.18, 48.0),
    ("常州", "Changzhou", 31.81, 119.97, 38.0),
    ("苏州", "Suzhou", 31.30, 120.62, 32.0),
    ("南通", "Nantong", 31.98, 120.89, 31.0),
    ("连云港", "Lianyungang", 34.60, 119.22, 36.0),
    ("淮安", "Huai'an", 33.61, 119.02, 42.0),
    ("盐城", "Yancheng", 33.35, 120.16, 33.0),
    ("扬州", "Yangzhou", 32.39, 119.41, 39.0),
    ("镇江", "Zhenjiang", 32.19, 119.42, 40.0),
    ("泰州", "Taizhou", 32.46, 119.92, 37.0),
    ("宿迁", "Suqian", 33.96, 118.28, 44.0),
)
POWER_OWNERS = ("华能", "大唐", "国电", "华电", "华润", "国信", "协鑫")
INDUSTRIES = ("纺织", "化工", "造纸", "食品", "制药", "印染", "建材")
SITES = ("监测站", "开发区", "高新区", "城东", "城西", "湖滨", "奥体中心", "市政府", "港区", "科教城")

REGISTRY_COLUMNS = (
    "mn",
    "pw",
    "kind",
    "st",
    "edition",
    "encrypted",
    "key",
    "name",
    "name_en",
    "enterprise",
    "city",
    "lat",
    "lon",
    "utc_offset_min",
    "o2_ref",
    "parameters",
    "limits",
    "spans",
)


@dataclass(frozen=True, slots=True)
class StationConfig:
    """Everything that identifies one simulated data logger and its monitor."""

    index: int
    mn: str
    pw: str
    kind: str
    st: str
    edition: str
    encrypted: bool
    key: str
    key_age_days: float
    """Age of ``key`` when the run starts (days); it is renewed before 90 days (HJ 212-2025 §6.4.3)."""
    name: str
    name_en: str
    enterprise: str
    city: str
    lat: float
    lon: float
    utc_offset_min: int
    spec: Spec
    logger_id: str
    cpu_id: str
    macs: tuple[str, str]

    @property
    def o2_ref(self) -> float | None:
        return self.spec.o2_ref if isinstance(self.spec, FlueGasSpec) else None

    @property
    def codes(self) -> tuple[str, ...]:
        return {"flue_gas": FLUE_GAS_CODES, "water": WATER_CODES, "ambient": AMBIENT_CODES}[self.kind]

    @property
    def factors(self) -> dict[str, Factor]:
        table = AMBIENT_FACTORS if self.kind == "ambient" else FACTORS
        return {c: table[c] for c in self.codes}

    def registry_row(self) -> dict[str, str]:
        spec = self.spec
        limits: dict[str, float] = getattr(spec, "limits", {})
        spans: dict[str, float] = getattr(spec, "spans", {})
        return {
            "mn": self.mn,
            "pw": self.pw,
            "kind": self.kind,
            "st": self.st,
            "edition": self.edition,
            "encrypted": "1" if self.encrypted else "0",
            "key": self.key,
            "name": self.name,
            "name_en": self.name_en,
            "enterprise": self.enterprise,
            "city": self.city,
            "lat": f"{self.lat:.4f}",
            "lon": f"{self.lon:.4f}",
            "utc_offset_min": str(self.utc_offset_min),
            "o2_ref": "" if self.o2_ref is None else f"{self.o2_ref:g}",
            "parameters": ";".join(f"{c}:{f.unit}" for c, f in self.factors.items()),
            "limits": ";".join(f"{c}:{v:g}" for c, v in limits.items()),
            "spans": ";".join(f"{c}:{v:g}" for c, v in spans.items()),
        }


def _digest(*parts: object, size: int = 8) -> bytes:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).digest()


def _alnum(raw: bytes, n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(alphabet[b % len(alphabet)] for b in raw[:n])


def build_stations(
    count: int, *, seed: int = 1, kinds: Sequence[str] = KINDS, edition: str = "2017", encrypt: bool = False
) -> list[StationConfig]:
    """The first ``count`` stations of the province of ``seed`` (kinds taken in turn)."""
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"kinds must be among {KINDS}, got {list(kinds)}")
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, not {edition!r}")
    if count < 0:
        raise ValueError(f"station count must be >= 0, not {count}")
    return [_station(i, seed, kinds[i % len(kinds)], edition, encrypt=encrypt) for i in range(count)]


def read_registry(path: Path | str, *, seed: int = 1, limit: int | None = None) -> list[StationConfig]:
    """Stations listed in a registry CSV written elsewhere (the demo's, another run's).

    Needs ``mn`` and ``pw`` columns; ``kind`` (or else ``st``: 31 flue gas, 32 wastewater, 22
    ambient), ``edition``, ``key``, ``encrypted``, ``name`` and ``city`` are used when present. The
    monitor behind each MN is generated from ``seed`` and the row number, as for generated stations.
    """
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return stations_from_rows(rows[:limit] if limit is not None else rows, seed=seed)


def stations_from_rows(rows: Sequence[dict[str, str]], *, seed: int = 1) -> list[StationConfig]:
    """:func:`read_registry` on rows already read."""
    kind_of_st = {st: kind for kind, st in ST_OF_KIND.items()}
    out = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        mn, pw = (row.get("mn") or "").strip(), (row.get("pw") or "").strip()
        if not mn or not pw:
            raise ValueError(f"registry row {i + 1} lacks mn or pw: {row}")
        if mn in seen:
            raise ValueError(f"registry row {i + 1}: MN {mn} appears twice")
        seen.add(mn)
        kind = (row.get("kind") or "").strip() or kind_of_st.get((row.get("st") or "").strip(), "flue_gas")
        if kind not in KINDS:
            raise ValueError(
                f"registry row {i + 1} ({mn}): kind {kind!r} is not simulated; use one of {KINDS}"
            )
        edition = (row.get("edition") or "2017").strip()
        if edition not in ("2017", "2025"):
            raise ValueError(f"registry row {i + 1} ({mn}): edition {edition!r} is not 2017 or 2025")
        key = (row.get("key") or "").strip()
        flag = (row.get("encrypted") or "").strip().lower()
        encrypted = edition == "2025" and bool(key) and flag not in ("0", "false", "no")
        if encrypted and (len(key) != 16 or not key.isascii()):
            raise ValueError(f"registry row {i + 1} ({mn}): an SM4 key is 16 ASCII characters, not {key!r}")
        base = _station(i, seed, kind, edition, encrypt=False, mn=mn)
        city = (row.get("city") or "").strip()
        where = next((c for c in CITIES if city in (c[0], c[1])), None) if city else None
        changes: dict[str, object] = {"pw": pw, "encrypted": encrypted, "key": key if encrypted else ""}
        changes["st"] = (row.get("st") or "").strip() or base.st
        if row.get("name"):
            changes["name"] = row["name"]
        if where is not None:
            changes.update(city=where[0], lat=where[2], lon=where[3])
            if isinstance(base.spec, AmbientSpec):
                changes["spec"] = replace(base.spec, city=where[0], lat=where[2], lon=where[3])
        out.append(replace(base, **changes))  # type: ignore[arg-type]
    return out


def _station(
    i: int, seed: int, kind: str, edition: str, *, encrypt: bool, mn: str | None = None
) -> StationConfig:
    r = Stream("station", seed, i)
    st = ST_OF_KIND[kind]
    if mn is None:
        run_tag, check = _digest(seed, size=2).hex().upper(), _digest(seed, i, "mn", size=4).hex().upper()
        mn = f"E7{run_tag}{st}{i:08X}{check}"
    pw = f"{int.from_bytes(_digest(seed, i, 'pw'), 'big') % 1_000_000:06d}"
    if edition == "mixed":
        ed = "2025" if r.chance(1, 0.5) else "2017"
    else:
        ed = edition
    encrypted = encrypt and ed == "2025"
    key = _alnum(_digest(seed, i, "sm4", size=32), 16) if encrypted else ""
    city, city_en, lat, lon, pm = CITIES[int(r.uniform(2) * len(CITIES))]
    lat += r.between(3, -0.12, 0.12)
    lon += r.between(4, -0.12, 0.12)
    spec: Spec
    if kind == "flue_gas":
        spec, name, name_en, ent = _flue_gas(mn, r, city, city_en, i)
    elif kind == "water":
        spec, name, name_en, ent = _water(mn, r, city, city_en, i)
    else:
        site = SITES[int(r.uniform(5) * len(SITES))]
        spec = AmbientSpec(
            key=mn,
            city=city,
            lat=lat,
            lon=lon,
            pm25_base=pm * r.between(6, 0.9, 1.1),
            no2_base=r.between(7, 24.0, 42.0),
            so2_base=r.between(8, 5.0, 14.0),
            co_base=r.between(9, 0.5, 0.9),
            check_hour=r.between(10, 0.0, 5.0),
        )
        name, name_en, ent = f"{city}{site}空气站{i}", f"{city_en} air station {i}", ""
    macs = tuple(":".join(f"{b:02X}" for b in _digest(seed, i, "mac", j, size=6)) for j in (1, 2))
    return StationConfig(
        index=i,
        mn=mn,
        pw=pw,
        kind=kind,
        st=st,
        edition=ed,
        encrypted=encrypted,
        key=key,
        key_age_days=r.between(11, 0.0, 80.0),
        name=name,
        name_en=name_en,
        enterprise=ent,
        city=city,
        lat=lat,
        lon=lon,
        utc_offset_min=480,
        spec=spec,
        logger_id=f"ET{_digest(seed, i, 'logger', size=6).hex().upper()}",
        cpu_id=_digest(seed, i, "cpu", size=12).hex().upper(),
        macs=(macs[0], macs[1]),
    )


def _flue_gas(mn: str, r: Stream, city: str, city_en: str, i: int) -> tuple[FlueGasSpec, str, str, str]:
    if r.chance(20, 0.6):
        rated = (300.0, 330.0, 600.0, 660.0, 1000.0)[int(r.uniform(21) * 5)]
        flow = 0.93 * rated
        owner = POWER_OWNERS[int(r.uniform(22) * len(POWER_OWNERS))]
        ent = f"{owner}{city}发电有限公司"
        spec = FlueGasSpec(
            key=mn,
            unit_type="power",
            rated_mw=rated,
            o2_ref=6.0,
            limits={"a21026": 35.0, "a21002": 50.0, "a34013": 10.0},
            set_points={
                "a21026": r.between(23, 0.35, 0.6),
                "a21002": r.between(24, 0.55, 0.75),
                "a34013": r.between(25, 0.2, 0.45),
            },
            spans={"a21026": 100.0, "a21002": 200.0, "a34013": 50.0},
            o2_full_load=r.between(26, 5.2, 6.4),
            flow_full=flow,
            duct_area=1.34 * flow / 17.0,
            stack_temp=r.between(27, 47.0, 55.0),
            moisture=r.between(28, 10.0, 13.0),
            calibration_hour=r.between(29, 0.5, 4.5),
            outage_probability=0.3,
        )
        return spec, f"{ent} {i % 4 + 1}号机组", f"{city_en} power unit {i}", ent
    rated = r.between(21, 7.0, 70.0)
    flow = 0.45 * rated
    ent = f"{city}{INDUSTRIES[int(r.uniform(22) * len(INDUSTRIES))]}有限公司"
    spec = FlueGasSpec(
        key=mn,
        unit_type="boiler",
        rated_mw=rated,
        o2_ref=9.0,
        limits={"a21026": 200.0, "a21002": 200.0, "a34013": 30.0},
        set_points={
            "a21026": r.between(23, 0.3, 0.6),
            "a21002": r.between(24, 0.45, 0.7),
            "a34013": r.between(25, 0.25, 0.5),
        },
        spans={"a21026": 500.0, "a21002": 500.0, "a34013": 100.0},
        o2_full_load=r.between(26, 7.8, 9.2),
        flow_full=flow,
        duct_area=1.6 * flow / 14.0,
        stack_temp=r.between(27, 120.0, 150.0),
        moisture=r.between(28, 6.0, 8.0),
        calibration_hour=r.between(29, 0.5, 4.5),
        sunday_stop=r.chance(30, 0.4),
        outage_probability=0.2,
    )
    return spec, f"{ent} 锅炉排口", f"{city_en} industrial boiler {i}", ent


def _water(mn: str, r: Stream, city: str, city_en: str, i: int) -> tuple[WastewaterSpec, str, str, str]:
    municipal = r.chance(20, 0.6)
    limits = {"w01018": 50.0, "w21003": 5.0, "w21011": 0.5, "w21001": 15.0}
    typical = {
        "w01001": r.between(21, 6.9, 7.5),
        "w01018": r.between(22, 16.0, 34.0),
        "w21003": r.between(23, 0.3, 2.0),
        "w21011": r.between(24, 0.1, 0.35),
        "w21001": r.between(25, 6.0, 12.0),
    }
    if municipal:
        flow = r.between(26, 100.0, 1200.0)
        ent = f"{city}第{i % 5 + 1}污水处理厂"
        name, name_en = f"{ent} 出水口", f"{city_en} sewage works {i}"
    else:
        flow = r.between(26, 10.0, 120.0)
        ent = f"{city}{INDUSTRIES[int(r.uniform(27) * len(INDUSTRIES))]}有限公司"
        name, name_en = f"{ent} 废水总排口", f"{city_en} factory outfall {i}"
    spec = WastewaterSpec(
        key=mn,
        works="municipal" if municipal else "industrial",
        design_flow=flow,
        limits=limits,
        typical=typical,
        cycle_offset_min=r.between(28, 2.0, 50.0),
        calibration_hour=r.between(29, 1.0, 5.0),
        maintenance_weekday=int(r.uniform(30) * 5),
    )
    return spec, name, name_en, ent


class Province:
    """The stations of one run and their models (ambient stations share one region)."""

    def __init__(self, stations: Sequence[StationConfig], *, seed: int = 1) -> None:
        self.stations = list(stations)
        self.region = AmbientRegion(seed)
        self.models: dict[str, Model] = {}
        for s in self.stations:
            spec = s.spec
            if isinstance(spec, FlueGasSpec):
                self.models[s.mn] = FlueGasModel(spec)
            elif isinstance(spec, WastewaterSpec):
                self.models[s.mn] = WastewaterModel(spec)
            else:
                self.models[s.mn] = AmbientModel(spec, self.region)

    def sample(self, mn: str, t: float) -> Sample:
        return self.models[mn].sample(t)

    def by_mn(self, mn: str) -> StationConfig:
        for s in self.stations:
            if s.mn == mn:
                return s
        raise KeyError(mn)


def write_registry(path: Path | str, stations: Iterable[StationConfig]) -> None:
    """Write the registry CSV (UTF-8, header ``REGISTRY_COLUMNS``)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=REGISTRY_COLUMNS)
        w.writeheader()
        for s in stations:
            w.writerow(s.registry_row())
