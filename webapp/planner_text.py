"""The planner pages' figures in words a planner reads: Chinese, with units and one-line
explanations.

:mod:`geo` returns data (numbers, codes) and a few technical sentences in English (demand
descriptions, warnings); the planner pages are Chinese. This module turns them into the
page's text and nothing else: the solver status and what it means, the proven bound in the
objective's unit (people, townships, points) and as a share of the demand, the gap over the
total covered, the cost line (or 未设置费用), the demand description and the warnings. A
technical sentence this module does not know is shown as it is, marked 技术说明, never
dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

#: How a solved plan is labelled: ``(label, explanation)``, by (solver, status).
_STATUS = {
    "optimal": (
        "最优（已证明）",
        "方案已达到证明的上界：没有任何方案能覆盖更多。",
    ),
    "feasible": (
        "可行解（未证明最优）",
        "整数规划在时间上限内找到的方案；与上界的差距说明最多还可能差多少。",
    ),
    "greedy": (
        "贪心近似",
        "逐个加入增益最大的站点，速度快；与上界的差距说明最多还可能差多少。",
    ),
    "infeasible": (
        "目标无法达到",
        "即使选中全部候选点也达不到目标覆盖率；方案给出能达到的最高覆盖率。",
    ),
}

#: How the bound was proven, in words.
BOUND_SOURCES = {
    "lp": "线性规划松弛",
    "lp-dual": "线性规划对偶",
    "lagrangian": "拉格朗日松弛",
    "mip": "整数规划求解器",
    "submodular": "子模性上界",
    "capacity": "容量上界",
    "trivial": "全部可覆盖需求",
}

SOLVERS = {"greedy": "贪心", "exact": "精确（整数规划）"}


def status_label(solver: str, status: str) -> tuple[str, str]:
    """``(label, explanation)`` of a plan's solver status.

    A greedy answer that a bound proves optimal is 最优（已证明）; one that is not is
    贪心近似; an exact solver's answer without proof is 可行解（未证明最优）.
    """
    if status == "feasible" and solver == "greedy":
        return _STATUS["greedy"]
    return _STATUS.get(status, (str(status), ""))


def demand_unit(params: Mapping, summary: Mapping | None = None) -> str:
    """The unit of the demand of a job: 人, 个乡镇, 个县区, 个需求点 or 权重."""
    unit = (summary or {}).get("demand_unit")
    if params.get("population") or params.get("population_table"):
        return "人"
    if params.get("demand_points"):
        return {"population": "人", "weight": "权重"}.get(str(unit), "个需求点")
    if unit == "population":  # township seats weighted by a table
        return "人"
    return "个乡镇"


def amount(value: float | None, unit: str) -> str:
    """``value`` with its unit: "12,345 人", "9 个乡镇", "3.5 权重"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    whole = unit == "人" or abs(value - round(value)) < 1e-6  # people spread by area: whole
    text = f"{value:,.0f}" if whole else f"{value:,.1f}"
    return f"{text} {unit}" if unit.startswith("个") or unit == "人" else f"{text}（{unit}）"


def plan_figures(plan: Mapping, params: Mapping, chosen_sites: list[Mapping]) -> dict:
    """The plan page's figures as text: status, bound, gap, cost.

    Returns ``{"status", "status_explain", "bound", "bound_explain", "gap", "gap_explain",
    "cost"}``. The bound is in the objective's unit: covered demand (with its share of the
    demand) for "best sites" and budget plans, a number of sites for "fewest sites"; the gap
    is ``(bound − found) / bound`` of the total covered (for fewest sites:
    ``(sites − bound) / sites``).
    """
    label, explain = status_label(str(plan.get("solver")), str(plan.get("status")))
    unit = demand_unit(params)
    bound, total = plan.get("bound"), plan.get("total_weight") or 0.0
    source = BOUND_SOURCES.get(str(plan.get("bound_source")), str(plan.get("bound_source")))
    out = {"status": label, "status_explain": explain, "bound_title": "证明的上界"}
    if bound is None or (isinstance(bound, float) and not math.isfinite(bound)):
        out.update(bound="—", bound_explain="", gap="—", gap_explain="")
    elif plan.get("problem") == "lscp":
        n = len(chosen_sites)
        out["bound_title"] = "证明的下界"
        out["bound"] = f"至少 {math.ceil(bound - 1e-6)} 个站点"
        out["bound_explain"] = f"由{source}证明：达到目标覆盖率不可能少于这么多站点。"
        gap = (n - bound) / n if n else 0.0
        out["gap"] = f"{max(gap, 0.0):.1%}"
        out["gap_explain"] = "（方案站点数 − 下界）÷ 方案站点数：最多可能多用了这么多站点。"
    else:
        found = float(plan.get("covered_after") or 0.0)
        share = f"（需求的 {bound / total:.1%}）" if total > 0 else ""
        out["bound"] = f"最多覆盖 {amount(bound, unit)}{share}"
        out["bound_explain"] = f"由{source}证明：任何方案都不可能覆盖更多。"
        gap = plan.get("gap_of_total")  # geo.plan.Plan.gap_of_total; older results lack it
        if gap is None:
            gap = (bound - found) / bound if bound > 0 else 0.0
        out["gap"] = f"{max(gap, 0.0):.1%}"
        out["gap_explain"] = (
            f"（上界 − 方案覆盖）÷ 上界，按总覆盖计：方案覆盖 {amount(found, unit)}，"
            "最优方案最多比它多覆盖这么多。"
        )
    out["cost"] = cost_text(chosen_sites, params)
    return out


def cost_text(chosen_sites: list[Mapping], params: Mapping) -> str:
    """ "费用 12,000 元（一次性）…", or 未设置费用 when no site has a cost."""
    costs = [s.get("cost") for s in chosen_sites]
    known = [float(c) for c in costs if c is not None and not (isinstance(c, float) and c != c)]
    if not known:
        return "未设置费用"
    text = f"{sum(known):,.0f} 元"
    if len(known) < len(costs):
        text += f"（{len(costs) - len(known)} 个站点未设置费用）"
    return text


# ---------------------------------------------------------------- technical sentences

_POSITION_SOURCES = {
    "sizhi_bbox_centre": "区划范围中心",
    "township_table": "乡镇表",
    "registry_stations": "登记站点的中位位置",
    "gazetteer": "区划库",
}
_LEVELS = {"township": "乡镇", "county": "县区", "prefecture": "地市"}


def _sources(text: str) -> str:
    parts = []
    for item in text.split(","):
        item = item.strip()
        if item == "approximate":
            parts.append("位置为近似")
            continue
        m = re.fullmatch(r"(\S+) (\d+)", item)
        if m:
            parts.append(f"{_POSITION_SOURCES.get(m[1], m[1])} {m[2]} 个")
        elif item:
            parts.append(item)
    return "、".join(parts)


def _seats(m: re.Match) -> str:
    level = _LEVELS.get(m["level"], m["level"])
    weight = f"按{m['table']}的人口加权" if m["table"] else f"每个{level}计 1 个单位"
    text = f"{m['code']} {m['name']} 的{level}驻地：{weight}；"
    text += f"{m['n']} 个{level}中 {m['placed']} 个已定位"
    if m["sources"]:
        text += f"（{_sources(m['sources'])}）"
    if m["unknown"] != "0":
        text += f"，{m['unknown']} 个位置未知"
    return text


#: Known technical sentences of :mod:`geo.demand` and :mod:`geo.coverage`, as
#: ``(pattern, Chinese)``; the pattern must match the whole sentence.
_CATALOGUE: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (
        re.compile(
            r"(?P<level>township|county) seats of (?P<code>\d+) (?P<name>\S+): 1 unit"
            r"(?: weighted by the population of (?P<table>.+?))? per \w+; (?P<placed>\d+) of "
            r"(?P<n>\d+) placed \((?P<sources>[^)]*)\), (?P<unknown>\d+) position unknown"
        ),
        _seats,
    ),
    (
        re.compile(
            r"admin table (?P<name>.+?) \(codes '(?P<code>[^']*)', population '(?P<pop>[^']*)'"
            r"(?P<scale>, ×10,000)?\): (?P<units>\d+) units, (?P<people>[\d,]+) people spread "
            r"over (?P<cells>.+?) by cell area"
        ),
        lambda m: (
            f"人口表 {m['name']}（代码列“{m['code']}”，人口列“{m['pop']}”"
            + ("，单位万人" if m["scale"] else "")
            + f"）：{m['units']} 个区划单元共 {m['people']} 人，按面积分摊到网格"
        ),
    ),
    (
        re.compile(
            r"raster (?P<name>.+?) \(band (?P<band>\d+), (?P<crs>[^,]+), (?P<px>[\d.e+-]+) km² "
            r"pixels\): (?P<region>[\d,]+) people in the region of (?P<window>[\d,]+) in the "
            r"window read; pixels summed into (?P<cells>.+?) by pixel centre(?P<rest>.*)"
        ),
        lambda m: (
            f"人口栅格 {m['name']}（第 {m['band']} 波段，像元 {m['px']} 平方公里）："
            f"区域内 {m['region']} 人（读取窗口共 {m['window']} 人），按像元中心汇总到网格"
        ),
    ),
    (
        re.compile(r"points (?P<label>.+?) \((?P<n>\d+) points, (?P<crs>[^,]+), (?P<w>[^)]*)\).*"),
        lambda m: (
            f"需求点文件 {m['label']}：{m['n']} 个点"
            + ("，每点计 1" if m["w"] == "1 per point" else "，按权重列加权")
            + "；县区按边界判定，乡镇取最近的乡镇（近似）"
        ),
    ),
    (
        re.compile(
            r"(?P<n>\d+) of (?P<all>\d+) (?P<level>\w+?)s have no position \(位置未知\): kept as "
            r"unknown, neither covered nor uncovered; shares are over the (?P<placed>\d+) "
            r"placed: (?P<ex>.*)"
        ),
        lambda m: (
            f"{m['all']} 个{_LEVELS.get(m['level'], m['level'])}中有 {m['n']} 个位置未知："
            f"既不算覆盖也不算未覆盖，覆盖率只按已定位的 {m['placed']} 个计算。例如：{m['ex']}"
        ),
    ),
    (
        re.compile(
            r"(?P<n>\d+) of (?P<all>\d+) (?P<level>\w+?)s have no population in (?P<t>.+?) and "
            r"count 0: (?P<ex>.*)"
        ),
        lambda m: (
            f"{m['all']} 个{_LEVELS.get(m['level'], m['level'])}中有 {m['n']} 个在 "
            f"{m['t']} 中没有人口，按 0 计：{m['ex']}"
        ),
    ),
    (
        re.compile(r"(?P<n>\d+) rows of (?P<t>.+?) were not used: (?P<why>.*)"),
        lambda m: f"{m['t']} 有 {m['n']} 行未使用：{m['why']}",
    ),
    (
        re.compile(
            r"(?P<n>\d+) (?P<level>\w+?)s not placed at their registry stations, whose median "
            r"lies outside the county: (?P<ex>.*)"
        ),
        lambda m: (
            f"{m['n']} 个{_LEVELS.get(m['level'], m['level'])}的登记站点中位位置在县界外，"
            f"未采用：{m['ex']}"
        ),
    ),
    (
        re.compile(
            r"(?P<n>\d+) (?P<level>\w+?) positions lie outside their county's outline "
            r"\(positions are approximate\)"
        ),
        lambda m: (
            f"{m['n']} 个{_LEVELS.get(m['level'], m['level'])}的位置在所属县界外（位置为近似）"
        ),
    ),
    (
        re.compile(
            r"none of the (?P<n>[\d,]+) demand cells reaches a station of kind (?P<k>.+?) within "
            r"(?P<min>[\d.]+) minutes: no station is within reach of the region"
        ),
        lambda m: f"{m['n']} 个需求单元在 {m['min']} 分钟内都到不了任何站点：区域附近没有这类站点",
    ),
    (
        re.compile(
            r"(?P<n>\d+) demand cells are farther from the road network than the snapping "
            r"limit and count as not covered"
        ),
        lambda m: f"{m['n']} 个需求单元离道路网络太远，按未覆盖计",
    ),
    # plan messages (geo.plan)
    (
        re.compile(r"exact solver needs highspy \(HiGHS\), not installed: used greedy"),
        lambda m: "服务器未安装精确求解器（HiGHS），已改用贪心",
    ),
    (
        re.compile(r"the matrix has (?P<n>[\d,]+) entries after reduction, more than the exact .*"),
        lambda m: (
            f"问题规模（{m['n']} 个需求–候选配对）超出精确求解的上限，已改用贪心（见与上界的差距）"
        ),
    ),
    (
        re.compile(r"exact stopped at the time limit \((?P<s>[\d.]+) s\): see gap"),
        lambda m: f"精确求解在时间上限（{m['s']} 秒）停止：结果未证明最优，见与上界的差距",
    ),
    (
        re.compile(r"exact timed out after (?P<s>[\d.]+) s with a worse incumbent.*"),
        lambda m: f"精确求解 {m['s']} 秒内没有找到更好的方案，已改用贪心结果",
    ),
    (
        re.compile(r"exact found no solution \((?P<st>[^)]*)\) within (?P<s>[\d.]+) s.*"),
        lambda m: f"精确求解 {m['s']} 秒内没有找到方案，已改用贪心结果",
    ),
    (
        re.compile(
            r"tie-break: mean minutes (?P<a>\S+) → (?P<b>\S+) at equal or better coverage.*"
        ),
        lambda m: f"在覆盖不减的前提下缩短出行时间：平均 {m['a']} → {m['b']} 分钟",
    ),
    (
        re.compile(r"tie-break found no faster plan: first plan kept"),
        lambda m: "没有覆盖相同且更快的方案，保留原方案",
    ),
    (
        re.compile(r"p = (?P<p>\d+) exceeds the (?P<n>\d+) candidates: capped at \d+"),
        lambda m: f"要求新增 {m['p']} 个站点，但只有 {m['n']} 个候选点：按 {m['n']} 个计算",
    ),
    (re.compile(r"township positions \(approximate\)"), lambda m: "各乡镇驻地（位置为近似）"),
    (re.compile(r"centres of uncovered cells"), lambda m: "未覆盖网格的中心"),
    (
        re.compile(r"grid in the gaps, (?P<m>[\d.e+]+) m"),
        lambda m: f"服务空白内的规则网格（间距 {float(m['m']):g} 米）",
    ),
    (re.compile(r"file (?P<name>.+)"), lambda m: f"上传的候选点文件 {m['name']}"),
    (
        re.compile(r"(?P<n>\d+) polygon features were replaced by a point inside them"),
        lambda m: f"{m['n']} 个面要素已换成其内部的一个点",
    ),
    (
        re.compile(r"(?P<n>\d+) points (?P<why>.+?) were dropped \((?P<ex>.*)\)"),
        lambda m: f"{m['n']} 个点被舍弃（{m['why']}）：{m['ex']}",
    ),
    (
        re.compile(
            r"the raster covers only (?P<p>[\d.]+) % of the region; population outside it "
            r"counts as 0"
        ),
        lambda m: f"人口栅格只覆盖区域的 {m['p']}%；栅格以外的人口按 0 计",
    ),
    (
        re.compile(r"(?P<n>[\d,]+) nodata pixels in the region counted as 0"),
        lambda m: f"区域内 {m['n']} 个无数据像元按 0 计",
    ),
    (
        re.compile(r"(?P<n>[\d,]+) negative pixel values in the window counted as 0"),
        lambda m: f"{m['n']} 个负值像元按 0 计",
    ),
    (
        re.compile(
            r"(?P<n>[\d,]+) pixels \((?P<p>[\d,]+) people\) in the region but outside every "
            r"cell \(the border ribbon\) were added to the nearest cell"
        ),
        lambda m: f"边界处 {m['n']} 个像元（{m['p']} 人）不在任何网格内，已并入最近的网格",
    ),
    (
        re.compile(r"raster pixels \((?P<a>[^)]*)\) are larger than the cells \((?P<b>[^)]*)\).*"),
        lambda m: (
            f"栅格像元（{m['a']}）比网格（{m['b']}）大：许多网格分不到像元，"
            "请用更粗的网格或更细的栅格"
        ),
    ),
    (
        re.compile(r"population read from column (?P<c>.+?); also found (?P<o>.*)"),
        lambda m: f"人口取自列 {m['c']}；另有列 {m['o']}",
    ),
    (
        re.compile(r"(?P<n>\d+) table rows had unknown codes: (?P<ex>.*)"),
        lambda m: f"表中 {m['n']} 行的区划代码无法识别：{m['ex']}",
    ),
    (
        re.compile(
            r"(?P<n>\d+) duplicate rows \(same code and population\) counted once: (?P<ex>.*)"
        ),
        lambda m: f"{m['n']} 行重复（代码和人口相同），只计一次：{m['ex']}",
    ),
    (
        re.compile(r"(?P<n>\d+) rows are subtotals of finer rows and were not spread: (?P<ex>.*)"),
        lambda m: f"{m['n']} 行是下级行的小计，未再分摊：{m['ex']}",
    ),
    (
        re.compile(r"(?P<n>\d+) subtotals differ from the sum of their finer rows.*?: (?P<ex>.*)"),
        lambda m: f"{m['n']} 个小计与下级行之和不符（差额未分摊）：{m['ex']}",
    ),
]


def technical_zh(text: str) -> str:
    """A technical sentence of :mod:`geo` (a demand description, a warning) in Chinese.

    Sentences already in Chinese are kept; an unknown English sentence is kept as it is,
    marked 技术说明 (the facts are never dropped).
    """
    text = str(text).strip()
    for pattern, render in _CATALOGUE:
        m = pattern.fullmatch(text)
        if m:
            return render(m)
    if not re.search(r"[A-Za-z]{3,}", text):
        return text
    return f"技术说明：{text}"


def model_zh(model: Mapping) -> str:
    """The travel model named for a planner: the crow-fly estimate as the reports name it
    (:func:`geo.report.model_text`), or the road network."""
    if model.get("model") == "crowfly" and model.get("speed_kph") and model.get("circuity"):
        from geo.report import model_text

        return model_text(dict(model), "zh")
    if model.get("model") == "crowfly":
        return "直线估算"
    return "道路网络（服务器配置的 OSM 路网）"


#: Rows of the scenario comparison (:func:`geo.workflows.compare`), named for a planner.
COMPARE_LABELS = {
    "problem": "规划问题",
    "solver": "求解器",
    "status": "求解状态",
    "share_before": "覆盖率（规划前）",
    "share_after": "覆盖率（规划后）",
    "gap": "与上界的差距（按新增覆盖计）",
    "cost": "一次性费用",
    "yearly_cost": "每年费用",
    "sites": "选中的站点",
}
PROBLEMS = {
    "mclp": "新增 K 个最佳站点",
    "lscp": "达到目标覆盖率的最少站点",
    "budget": "预算内最佳站点",
}


def compare_value(figure: str, value: object, row: Mapping | None = None) -> str:
    """One cell of the scenario comparison as text (shares in %, money in 元, codes named)."""
    if value is None:
        return "—"
    if figure in ("share_before", "share_after", "gap"):
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if figure in ("cost", "yearly_cost"):
        return f"{float(value):,.0f} 元" if value else "未设置费用"  # type: ignore[arg-type]
    if figure == "problem":
        return PROBLEMS.get(str(value), str(value))
    if figure == "solver":
        return SOLVERS.get(str(value), str(value))
    if figure == "status":
        return status_label(str((row or {}).get("solver", "")), str(value))[0]
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return str(value)
