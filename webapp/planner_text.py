"""The planner pages' words: one catalogue in Chinese (the default) and English, and the
figures in words a planner reads, with units and one-line explanations.

:data:`MESSAGES` holds every server-rendered string of the planner pages (templates, form
labels, errors, download labels, job states and stages) as ``key: (zh, en)``; :func:`text`
picks one and fills its ``{placeholders}``; the templates call it as ``t('key')`` (a Jinja
global of :mod:`webapp.planner` bound to the page's language). The pages' scripts take
theirs from ``static/js/i18n.js`` (its planner blocks).

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

#: Languages of the planner pages; the first is the default.
LANGS = ("zh", "en")

# ---------------------------------------------------------------- the catalogue

#: Every server-rendered string of the planner pages: ``key: (zh, en)``.
MESSAGES: dict[str, tuple[str, str]] = {
    # page chrome (planner/base.html)
    "app": ("驿站规划", "Yizhan planning"),
    "brand": ("驿站 · 站点规划", "Yizhan · station planning"),
    "nav": ("规划导航", "Planner navigation"),
    "nav.new": ("新建分析", "New analysis"),
    "nav.scenarios": ("方案库", "Scenarios"),
    "nav.logout": ("退出", "Log out"),
    "lang.switch": ("English", "中文"),
    "lang.switch_label": ("Switch to English", "切换到中文"),
    "demo": (
        "演示数据仅供示意：站点为示例，位置为近似。直线估算的出行时间只是近似值。",
        "Demo data for illustration: the stations are examples and their positions approximate. "
        "Crow-fly travel times are estimates.",
    ),
    # login / logout / error
    "login.title": ("登录", "Log in"),
    "login.heading": ("规划人员登录", "Planner log-in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.hint": (
        "账号由管理员用以下命令创建：",
        "An administrator creates accounts with:",
    ),
    "login.cmd": ("yizhan user add 用户名", "yizhan user add NAME"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.required": ("请先登录", "Please log in first"),
    "logout.title": ("退出", "Log out"),
    "logout.heading": ("退出登录", "Log out"),
    "logout.submit": ("确认退出", "Log out now"),
    "error.heading": ("出错了（{status}）", "Something went wrong ({status})"),
    "error.back": ("返回规划首页", "Back to the planner"),
    "csrf": (
        "CSRF 令牌缺失或无效：请刷新页面后重试",
        "The form's security token is missing or invalid: reload the page and try again",
    ),
    # the coverage form (planner/index.html)
    "index.title": ("新建覆盖分析", "New coverage analysis"),
    "index.heading": ("服务圈覆盖分析", "Service-area coverage analysis"),
    "index.hint": (
        "选择区域、站点类型、出行方式和时间阈值，计算多少需求能在阈值内到达最近的站点；"
        "完成后可在结果页运行选址规划。",
        "Choose a region, a kind of station, a travel mode and a time limit to see how much "
        "demand reaches its nearest station within the limit; the result page then offers "
        "site planning.",
    ),
    "form.region": (
        "区域（县区或地市名称，或 6 位区划代码）",
        "Region (county or prefecture name, or 6-digit division code)",
    ),
    "form.region_placeholder": ("如 融水苗族自治县 或 450225", "e.g. 450225"),
    "form.kind": ("站点类型", "Kind of station"),
    "form.mode": ("出行方式", "Travel mode"),
    "form.minutes": ("时间阈值（分钟）", "Time limit (minutes)"),
    "form.model": ("出行时间模型", "Travel-time model"),
    "form.model_crowfly": (
        "直线估算（直线距离 × 绕行系数 ÷ 速度）",
        "Crow-fly estimate (straight-line distance × detour factor ÷ speed)",
    ),
    "form.model_network": (
        "道路网络（服务器配置的 OSM 路网）",
        "Road network (the server's OSM roads)",
    ),
    "form.no_network": (
        "未配置道路网络（YIZHAN_PLANNER_NETWORK），只能用直线估算。",
        "No road network is configured (YIZHAN_PLANNER_NETWORK): crow-fly estimates only.",
    ),
    "form.demand": ("需求来源", "Demand"),
    "form.population_table": ("人口表文件（CSV/XLSX）", "Population table (CSV/XLSX)"),
    "form.population": ("人口栅格（GeoTIFF）", "Population raster (GeoTIFF)"),
    "form.points": ("需求点文件（CSV/GeoJSON）", "Demand points (CSV/GeoJSON)"),
    "form.township_table": (
        "乡镇表（可选，CSV/XLSX：乡镇代码或名称，经纬度和/或人口；为缺少位置的乡镇补充位置、按人口加权，仅用于“乡镇驻地”）",
        "Township table (optional, CSV/XLSX: township code or name, longitude/latitude and/or "
        "population; places townships without a position and weights them by population; "
        "township seats only)",
    ),
    "form.resolution": (
        "H3 网格分辨率（人口表、栅格用；5 最粗，10 最细，8 ≈ 0.74 平方公里）",
        "H3 grid resolution (population table or raster; 5 coarsest, 10 finest, 8 ≈ 0.74 km²)",
    ),
    "form.advanced": ("高级选项（直线估算）", "Advanced (crow-fly estimate)"),
    "form.speed": (
        "速度（公里/小时；留空用默认：步行 4.5，电动车 15，汽车 30/50）",
        "Speed (km/h; empty for the defaults: walking 4.5, e-bike 15, car 30/50)",
    ),
    "form.circuity": ("绕行系数（山区更高）", "Detour factor (higher in the mountains)"),
    "form.run_coverage": ("开始分析", "Run the analysis"),
    "index.recent": ("最近的分析", "Recent analyses"),
    "job.coverage": ("覆盖分析", "Coverage"),
    "job.plan": ("选址规划", "Site plan"),
    "demand.seats": ("乡镇驻地（每个乡镇计 1 个单位）", "Township seats (1 unit per township)"),
    "demand.population_table": (
        "人口表（区划代码 → 人口，按面积分摊到 H3 网格）",
        "Population table (division code → people, spread over H3 cells by area)",
    ),
    "demand.population": (
        "人口栅格 GeoTIFF（如 WorldPop，汇总到 H3 网格）",
        "Population raster GeoTIFF (e.g. WorldPop, summed into H3 cells)",
    ),
    "demand.demand_points": (
        "需求点文件（CSV/GeoJSON，经纬度 + 权重）",
        "Demand points (CSV/GeoJSON, longitude/latitude + weight)",
    ),
    "candidates.townships": ("各乡镇驻地（近似位置）", "Township seats (approximate positions)"),
    "candidates.gaps": ("未覆盖网格中心", "Centres of uncovered cells"),
    "candidates.grid": ("服务空白内的规则网格", "A regular grid in the service gaps"),
    "candidates.file": (
        "上传候选点文件（CSV/XLSX/GeoJSON）",
        "Upload a candidates file (CSV/XLSX/GeoJSON)",
    ),
    "problem.add": ("新增 K 个最佳站点", "Add the K best stations"),
    "problem.target": ("达到目标覆盖率的最少站点", "Fewest stations reaching a target coverage"),
    "problem.budget": ("预算内最佳站点", "Best stations within a budget"),
    # progress (planner/_progress.html)
    "progress.cancel": ("取消分析", "Cancel the analysis"),
    "progress.noscript": ("请刷新页面查看进度。", "Reload the page to see the progress."),
    "progress.failed": ("运行失败", "Failed"),
    "progress.cancelled": ("已取消", "Cancelled"),
    # the coverage page
    "coverage.title": ("覆盖分析", "Coverage"),
    "coverage.heading": ("覆盖分析：", "Coverage: "),
    "params.limit": ("阈值 {m} 分钟", "limit {m} min"),
    "params.network": ("道路网络", "road network"),
    "params.crowfly": ("直线估算", "crow-fly estimate"),
    "summary.title": ("覆盖摘要", "Coverage summary"),
    "summary.share": ("≤ {m} 分钟覆盖率", "Coverage within {m} min"),
    "summary.covered": ("已覆盖 / 总需求", "Covered / total demand"),
    "summary.stations": ("区域内站点", "Stations in the region"),
    "summary.count": ("{n} 个", "{n}"),
    "summary.stations_outside": (
        "区域外 {n} 个未计入此数（它们在出行范围内，覆盖计算已包括）",
        "{n} outside the region are not counted here (they are within reach and count for"
        " the coverage)",
    ),
    "summary.stations_explain": (
        "在出行范围内、计算覆盖时使用的正在运营的站点",
        "Operating stations within reach, used for the coverage",
    ),
    "summary.cells": ("需求单元", "Demand units"),
    "summary.cells_explain": (
        "覆盖按这些单元计算（乡镇驻地、网格或需求点）",
        "Coverage is counted over these units (township seats, cells or demand points)",
    ),
    "summary.unplaced": ("位置未知", "Position unknown"),
    "summary.unplaced_units": ("{n} 个单元", "{n} units"),
    "summary.unplaced_explain": (
        "没有位置的单元既不算覆盖也不算未覆盖",
        "Units without a position count as neither covered nor uncovered",
    ),
    "summary.model": ("出行模型", "Travel model"),
    "summary.demand": ("需求：{d}", "Demand: {d}"),
    "summary.warning": ("注意：", "Note: "),
    "map.label": (
        "覆盖地图：按出行时间着色的网格、服务空白和站点",
        "Coverage map: cells coloured by travel time, service gaps and stations",
    ),
    "legend.q1": ("≤ ¼ 阈值", "≤ ¼ of the limit"),
    "legend.limit": ("≤ 阈值", "≤ the limit"),
    "legend.beyond": ("超出阈值", "beyond the limit"),
    "legend.gaps": ("服务空白", "service gaps"),
    "legend.stations": ("现有站点", "existing stations"),
    "legend.chosen": ("新选址", "new sites"),
    "table.by_county": ("按县区", "By county"),
    "table.by_township": ("按乡镇", "By township"),
    "table.by_township_n": ("按乡镇（{n} 个）", "By township ({n})"),
    "col.code": ("代码", "Code"),
    "col.name": ("名称", "Name"),
    "col.state": ("状态", "State"),
    "col.demand_placed": ("需求（已定位）", "Demand (placed)"),
    "col.covered": ("覆盖", "Covered"),
    "col.share": ("覆盖率", "Coverage"),
    "col.mean": ("平均分钟", "Mean min"),
    "col.p90": ("90% 分钟", "90% min"),
    "col.station": ("主要服务站点", "Main station"),
    "col.units": ("已覆盖 / 已定位单元", "Units covered / placed"),
    "col.unplaced": ("位置未知单元（需求）", "Units without position (demand)"),
    "state.位置未知": ("位置未知", "position unknown"),
    "state.已覆盖": ("已覆盖", "covered"),
    "state.未覆盖": ("未覆盖", "not covered"),
    "state.部分覆盖": ("部分覆盖", "partly covered"),
    "downloads": ("下载文件：", "Downloads: "),
    # the plan form (on the coverage page)
    "planform.title": ("选址规划", "Site planning"),
    "planform.hint": (
        "现有站点保持不变，在候选点中选择新站点。规划使用直线估算。",
        "Existing stations stay; new ones are chosen among the candidates. Planning uses "
        "the crow-fly estimate.",
    ),
    "planform.hint_network": (
        "现有站点保持不变，在候选点中选择新站点。规划使用直线估算（道路网络规划暂不支持）。",
        "Existing stations stay; new ones are chosen among the candidates. Planning uses "
        "the crow-fly estimate (planning on the road network is not supported yet).",
    ),
    "planform.problem": ("规划问题", "Planning problem"),
    "planform.k": ("新增站点数 K", "Stations to add (K)"),
    "planform.target": ("目标覆盖率（%）", "Target coverage (%)"),
    "planform.budget": ("预算（元）", "Budget (yuan)"),
    "planform.years": ("计入年运营费的年数", "Years of running costs to count"),
    "planform.cost": (
        "每站费用（元，生成的候选点用；如乡镇职工之家 80000）",
        "Cost per site (yuan, for generated candidates; e.g. 80000 for a township workers' home)",
    ),
    "planform.candidates": ("候选点", "Candidates"),
    "planform.grid": ("网格间距（公里）", "Grid spacing (km)"),
    "planform.file": (
        "候选点文件（列：名称、经度、纬度，可选 建设费用、年费用）",
        "Candidates file (columns: name, longitude, latitude, optional cost, yearly cost)",
    ),
    "planform.township_table": (
        "乡镇表（可选，CSV/XLSX：乡镇代码或名称，经纬度和/或人口；补充乡镇位置、按人口加权，仅用于“乡镇驻地”需求；上传后替换覆盖分析时的乡镇表，不上传则沿用）",
        "Township table (optional, CSV/XLSX: township code or name, longitude/latitude and/or "
        "population; places and weights township seats only; replaces the coverage's table, "
        "which is kept when none is uploaded)",
    ),
    "planform.solver": ("求解器", "Solver"),
    "planform.greedy": (
        "贪心（快速，给出与上界的差距）",
        "Greedy (fast, with its gap to the bound)",
    ),
    "planform.exact": (
        "精确（HiGHS 整数规划，超时回退贪心）",
        "Exact (HiGHS integer programming, greedy if it times out)",
    ),
    "planform.time_limit": ("时间上限（秒）", "Time limit (seconds)"),
    "planform.run": ("运行规划", "Run the plan"),
    # the plan page
    "plan.title": ("选址规划", "Site plan"),
    "plan.heading": ("选址规划：", "Site plan: "),
    "plan.add": ("新增 {n} 个最佳站点", "add the {n} best stations"),
    "plan.target": ("目标覆盖率 {p}", "target coverage {p}"),
    "plan.budget": ("预算 {b} 元", "budget {b} yuan"),
    "plan.solver": ("求解器：{s}", "solver: {s}"),
    "plan.back_coverage": ("返回覆盖分析", "back to the coverage"),
    "plan.back_scenario": ("返回方案", "back to the scenario"),
    "plan.result": ("规划结果", "Plan result"),
    "plan.share_change": ("覆盖率（规划前 → 后）", "Coverage (before → after)"),
    "plan.new_sites": ("新增站点", "New stations"),
    "plan.status": ("求解状态", "Solver status"),
    "plan.gap": ("与上界的差距", "Gap to the bound"),
    "plan.run_time": ("求解用时", "Solver time"),
    "plan.seconds": ("{s} 秒", "{s} s"),
    "plan.cost": ("费用", "Cost"),
    "plan.candidates": ("候选点", "Candidates"),
    "plan.model_demand": ("出行模型：{m}；需求：{d}", "Travel model: {m}; demand: {d}"),
    "plan.after": ("规划后：", "After the plan: "),
    "plan.note": ("说明：", "Note: "),
    "plan.chosen_caption": (
        "选中的站点（按加入顺序，每个都是在前面站点基础上增益最大的）",
        "Chosen stations (in the order added, each the largest gain given those before)",
    ),
    "col.rank": ("序号", "No."),
    "col.id": ("编号", "ID"),
    "col.gain": ("新增覆盖（{u}）", "Added coverage ({u})"),
    "col.share_after_cum": ("累计覆盖率", "Cumulative coverage"),
    "col.lon": ("经度", "Longitude"),
    "col.lat": ("纬度", "Latitude"),
    "col.cost": ("费用（元）", "Cost (yuan)"),
    "plan.by_county_caption": ("按县区：规划前后", "By county: before and after"),
    "col.demand_u": ("需求（{u}）", "Demand ({u})"),
    "col.share_before": ("覆盖率（前）", "Coverage (before)"),
    "col.share_after": ("覆盖率（后）", "Coverage (after)"),
    "col.added": ("新增覆盖", "Added coverage"),
    "plan.downloads": ("下载报告", "Download the report"),
    "plan.zip": ("完整报告（ZIP）", "Full report (ZIP)"),
    "plan.save": ("保存为方案", "Save as a scenario"),
    "plan.scenario_name": ("方案名称", "Scenario name"),
    "plan.scenario_default": ("{region} 新增站点方案", "{region} new stations"),
    "plan.save_button": ("保存方案", "Save the scenario"),
    # scenarios
    "scenarios.title": ("方案库", "Scenarios"),
    "scenarios.none": (
        "还没有保存的方案。在规划结果页点击“保存方案”即可保存。",
        'No saved scenarios yet. Use "Save the scenario" on a plan\'s page.',
    ),
    "scenarios.caption": (
        "保存的方案（“需重算”：站点登记表在方案运行后有变化）",
        'Saved scenarios ("re-run needed": the station registry changed since it ran)',
    ),
    "col.region": ("区域", "Region"),
    "col.stations": ("站点", "Stations"),
    "col.run_at": ("运行时间", "Run at"),
    "scenarios.stale": ("需重算", "re-run needed"),
    "scenarios.fresh": ("最新", "up to date"),
    "scenarios.a": ("方案 A", "Scenario A"),
    "scenarios.b": ("方案 B", "Scenario B"),
    "scenarios.compare": ("比较", "Compare"),
    "scenario.title": ("方案", "Scenario"),
    "scenario.heading": ("方案：", "Scenario: "),
    "scenario.stale": (
        "站点登记表在本方案运行后有变化，结果可能已过时，请重新运行。",
        "The station registry changed since this scenario ran: the result may be out of "
        "date; run it again.",
    ),
    "scenario.region_kind": ("区域 / 类型", "Region / kind"),
    "scenario.share": ("覆盖率（前 → 后）", "Coverage (before → after)"),
    "scenario.solver_status": ("求解器 / 状态", "Solver / status"),
    "scenario.sites": ("选中的站点", "Chosen stations"),
    "scenario.params": ("参数", "Parameters"),
    "scenario.rerun": ("用当前登记表重新运行", "Run again on the current registry"),
    "scenario.shared": (
        "已共享：所有规划用户可查看和比较本方案（只读）。",
        "Shared: every planner user can view and compare this scenario (read-only).",
    ),
    "scenario.private": ("仅自己可见。", "Visible to you only."),
    "scenario.unshare": ("取消共享", "Stop sharing"),
    "scenario.share_button": (
        "共享给所有规划用户（只读）",
        "Share with every planner user (read-only)",
    ),
    "scenario.shared_by": ("由", "Shared by"),  # + the owner's name +
    "scenario.shared_by_end": ("共享（只读）。", "(read-only)."),
    "scenario.compare_with": ("与其他方案比较", "Compare with another scenario"),
    "compare.title": ("方案比较", "Scenario comparison"),
    "compare.figure": ("指标", "Figure"),
    "compare.back": ("返回方案库", "Back to the scenarios"),
    # errors of the planner's routes
    "err.coverage_unfinished": (
        "覆盖分析尚未完成，完成后才能规划",
        "The coverage has not finished: plan once it has",
    ),
    "err.plan_unfinished": (
        "规划尚未完成，完成后才能保存",
        "The plan has not finished: save it once it has",
    ),
    "err.scenario_name": (
        "请填写方案名称（最多 200 个字符）",
        "Give the scenario a name (at most 200 characters)",
    ),
    "err.finished": ("该分析已结束，无法取消", "This analysis has ended and cannot be cancelled"),
    "err.no_result": ("结果尚未生成", "The result is not ready yet"),
    "err.no_file": ("没有这个文件", "No such file"),
    "err.two_scenarios": ("请选择两个方案进行比较", "Choose two scenarios to compare"),
    "err.owner_only": (
        "只有方案的所有者可以重新运行或更改此方案",
        "Only the scenario's owner may run it again or change it",
    ),
    "err.region_empty": (
        "请填写分析区域（县区或地市的名称或 6 位区划代码）",
        "Type the region to analyse (a county or prefecture name or a 6-digit division code)",
    ),
    "err.region_code": ("未知的区划代码 {given}", "Unknown division code {given}"),
    "err.region_level": (
        "区划代码 {given} 是{level}级：请填写县区、地市或省的代码",
        "Division code {given} is a {level}: type the code of a county, prefecture or province",
    ),
    "err.region_ambiguous": (
        "“{given}”有多个同名区划，请填写区划代码：{options}",
        'Several divisions are called "{given}"; type the division code: {options}',
    ),
    "err.region_unknown": (
        "未找到区划“{given}”：请填写县区或地市名称或区划代码",
        'No division called "{given}": type a county or prefecture name or a division code',
    ),
    "err.network": (
        "本服务器未配置道路网络（YIZHAN_PLANNER_NETWORK）",
        "This server has no road network (YIZHAN_PLANNER_NETWORK)",
    ),
    "err.upload_missing": ("请选择要上传的文件", "Choose a file to upload"),
    "err.upload_type": ("{file}：文件类型须为 {types}", "{file}: the file type must be {types}"),
    "err.upload_size": ("{file}：文件超过 {mb} MB", "{file}: the file is larger than {mb} MB"),
    "err.upload_empty": ("{file}：文件是空的", "{file}: the file is empty"),
    "err.upload_unreadable": (
        "{file}：文件无法读取（{why}）",
        "{file}: the file cannot be read ({why})",
    ),
    "err.township_table": (
        "乡镇表用于定位和加权乡镇驻地需求，只能与“乡镇驻地”需求来源一起使用",
        'A township table places and weights township seats: use it with the "township '
        'seats" demand only',
    ),
    "err.k_missing": (
        "请填写新增站点数 K（至少 1）",
        "Type the number of stations to add, K (at least 1)",
    ),
    "err.target_missing": ("请填写目标覆盖率（%）", "Type the target coverage (%)"),
    "err.budget_missing": ("请填写预算（元）", "Type the budget (yuan)"),
    "err.budget_cost": (
        "预算规划需要填写每站费用（元）",
        "A budget plan needs the cost per site (yuan)",
    ),
    "err.k_too_many": (
        "新增站点数 K = {k} 超过候选点数量 {n}",
        "K = {k} stations to add is more than the {n} candidates",
    ),
    "err.kind": ("请选择站点类型", "Choose the kind of station"),
    "err.mode": (
        "出行方式须为步行、电动自行车或汽车",
        "The travel mode must be walking, e-bike or car",
    ),
    "err.demand": ("未知的需求来源", "Unknown demand source"),
    "err.problem": ("未知的规划问题", "Unknown planning problem"),
    "err.candidate_source": ("未知的候选点来源", "Unknown candidate source"),
    "err.solver": ("求解器须为 greedy 或 exact", "The solver must be greedy or exact"),
    "err.field.missing": ("请填写{label}", "Fill in {label}"),
    "err.field.number": ("{label}：“{raw}”不是有效的数字", '{label}: "{raw}" is not a number'),
    "err.field.finite": ("{label}：必须是有限的数字", "{label}: must be a finite number"),
    "err.field.low": ("{label}：不能小于 {lo}", "{label}: must be at least {lo}"),
    "err.field.high": ("{label}：不能大于 {hi}", "{label}: must be at most {hi}"),
    "err.field.other": ("{label}：{why}", "{label}: {why}"),
    # demand units
    "unit.人": ("人", "people"),
    "unit.个乡镇": ("个乡镇", "townships"),
    "unit.个县区": ("个县区", "counties"),
    "unit.个需求点": ("个需求点", "demand points"),
    "unit.权重": ("权重", "weight"),
    "unit.col.人": ("人", "people"),
    "unit.col.个乡镇": ("乡镇", "townships"),
    "unit.col.个县区": ("县区", "counties"),
    "unit.col.个需求点": ("需求点", "demand points"),
    "unit.col.权重": ("权重", "weight"),
    "no_cost": ("未设置费用", "no cost given"),
    "yuan": ("{v} 元", "{v} yuan"),
    "cost.partly": ("（{n} 个站点未设置费用）", " ({n} sites without a cost)"),
    "list.sep": ("、", ", "),
    # registry workspace /manage/: roles, areas, users (issue 15 item 1)
    "manage.app": ("驿站名录管理", "Yizhan registry"),
    "manage.nav": ("名录管理导航", "Registry navigation"),
    "manage.nav.dashboard": ("概览", "Overview"),
    "manage.nav.users": ("用户", "Users"),
    "manage.nav.planner": ("规划", "Planning"),
    "manage.nav.changes": ("审批", "Approvals"),
    "manage.nav.review": ("审核", "Review"),
    "manage.nav.liuyou": ("六有", "Six-haves"),
    "manage.forbidden": ("您的角色无权执行此操作。", "Your role may not do this."),
    "manage.out_of_area": ("此操作超出您负责的区域。", "This is outside your areas."),
    "manage.heading": ("名录管理", "Registry workspace"),
    "manage.you": ("您是 {name}，角色：{role}", "You are {name}, role: {role}"),
    "manage.areas": ("负责区域", "Your areas"),
    "manage.all_areas": ("全部区域", "All areas"),
    "manage.counts": ("各县区站点数", "Stations per county"),
    "manage.county": ("县区", "County"),
    "manage.total": ("合计", "Total"),
    "manage.no_stations": ("您的区域内还没有站点。", "No stations in your areas yet."),
    "manage.status.open": ("运营中", "Open"),
    "manage.status.closed": ("已关闭", "Closed"),
    "manage.status.planned": ("筹建中", "Planned"),
    "manage.no_county": ("（未填县区）", "(no county)"),
    "manage.role.admin": ("管理员", "Administrator"),
    "manage.role.reviewer": ("审核员", "Reviewer"),
    "manage.role.editor": ("编辑", "Editor"),
    "manage.role.planner": ("规划人员", "Planner"),
    "manage.role.staff": ("只读人员", "Read-only staff"),
    "manage.users.heading": ("用户管理", "Users"),
    "manage.users.name": ("用户名", "User name"),
    "manage.users.role": ("角色", "Role"),
    "manage.users.areas": ("区域", "Areas"),
    "manage.users.areas_hint": (
        "行政区划代码，每行一个或用逗号分隔，如 450225（县）、450200（市）",
        "Admin codes, one a line or comma-separated, e.g. 450225 (county), 450200 (city)",
    ),
    "manage.users.state": ("状态", "State"),
    "manage.users.enabled": ("启用", "Enabled"),
    "manage.users.disabled": ("已停用", "Disabled"),
    "manage.users.last_login": ("上次登录", "Last login"),
    "manage.users.password": ("初始密码", "Initial password"),
    "manage.users.create": ("新建用户", "Create user"),
    "manage.users.save": ("保存", "Save"),
    "manage.users.disable": ("停用", "Disable"),
    "manage.users.enable": ("启用", "Enable"),
    "manage.users.created": ("已创建用户 {name}。", "User {name} created."),
    "manage.users.saved": ("已保存用户 {name}。", "User {name} saved."),
    "manage.users.self": (
        "不能停用自己或取消自己的管理员角色。",
        "You cannot disable yourself or take away your own administrator role.",
    ),
    # approval (issue 15 item 5): /manage/changes
    "manage.changes.heading": ("修改审批", "Change approval"),
    "manage.changes.approval_on": (
        "本系统开启了审批：编辑提交的修改须经本区域审核员批准后才公开。",
        "Approval is on: changes by editors are published once a reviewer of the area "
        "approves them.",
    ),
    "manage.changes.approval_off": (
        "本系统未开启审批：修改直接公开。",
        "Approval is off: changes are published directly.",
    ),
    "manage.changes.queue": ("待我审批", "Waiting for my review"),
    "manage.changes.mine": ("我提交的修改", "My changes"),
    "manage.changes.none_pending": ("没有待审批的修改。", "No changes are waiting."),
    "manage.changes.none_mine": ("您还没有提交修改。", "You have not proposed any changes."),
    "manage.changes.pending_counts": ("待审批修改（按县区）", "Changes waiting (by county)"),
    "manage.changes.one": ("修改 #{id}", "Change #{id}"),
    "manage.changes.station": ("站点", "Station"),
    "manage.changes.action": ("操作", "Action"),
    "manage.changes.author": ("提交人", "Proposed by"),
    "manage.changes.reason": ("原因", "Reason"),
    "manage.changes.state": ("状态", "State"),
    "manage.changes.state.pending": ("待审批", "Pending"),
    "manage.changes.state.approved": ("已批准", "Approved"),
    "manage.changes.state.rejected": ("已退回", "Rejected"),
    "manage.changes.state.withdrawn": ("已撤回", "Withdrawn"),
    "manage.changes.state.superseded": ("已被新修改取代", "Superseded"),
    "manage.changes.own": ("本人", "mine"),
    "manage.changes.comment": ("审核意见", "Reviewer's comment"),
    "manage.changes.comment_hint": (
        "退回时必须填写意见；批准时可选。",
        "A comment is required to reject and optional to approve.",
    ),
    "manage.changes.base": ("基于版本", "Based on version"),
    "manage.changes.stale": (
        "站点在此之后已被修改（现为 v{version}），批准将被拒绝；请退回或让提交人重新提交。",
        "The station changed since (now v{version}): approval will be refused; reject it or "
        "ask the author to propose again.",
    ),
    "manage.changes.diff": ("逐项对比", "Field by field"),
    "manage.changes.field": ("字段", "Field"),
    "manage.changes.before": ("修改前", "Before"),
    "manage.changes.after": ("修改后", "After"),
    "manage.changes.now": ("当前", "Now"),
    "manage.changes.map": ("位置变化地图", "Map of the position change"),
    "manage.changes.approve": ("批准", "Approve"),
    "manage.changes.reject": ("退回", "Reject"),
    "manage.changes.withdraw": ("撤回修改", "Withdraw"),
    "manage.changes.own_hint": (
        "这是您本人提交的修改，须由其他审核员审批。",
        "This is your own change: another reviewer must decide it.",
    ),
    # review queue and 六有 page (issue 15 items 4 and 7)
    "manage.review.heading": ("审核队列", "Review queue"),
    "manage.review.counts": ("待审核事项（按县区）", "Open review items per county"),
    "manage.review.none": ("没有待审核的事项。", "Nothing to review."),
    "manage.review.kind": ("类型", "Kind"),
    "manage.review.kind.coarse": ("位置粗略", "Coarse position"),
    "manage.review.kind.conflict": ("坐标与所报县区不符", "Coordinates contradict the county"),
    "manage.review.kind.duplicate": ("疑似重复", "Possible duplicate"),
    "manage.review.kind.stale": ("久未更新", "Not updated for long"),
    "manage.review.state": ("状态", "State"),
    "manage.review.state.open": ("待处理", "Open"),
    "manage.review.state.accepted": ("已确认无误", "Accepted as is"),
    "manage.review.state.fixed": ("已修正", "Fixed"),
    "manage.review.state.merged": ("已合并", "Merged"),
    "manage.review.state.dismissed": ("已忽略", "Dismissed"),
    "manage.review.all": ("全部", "All"),
    "manage.review.filter": ("筛选", "Filter"),
    "manage.review.shown": ("共 {n} 项", "{n} items"),
    "manage.review.done": ("已处理：{state}。", "Done: {state}."),
    "manage.review.bad_filter": ("筛选条件无效", "Unknown filter value"),
    "manage.review.item": ("审核事项", "Review item"),
    "manage.review.reasons": ("原因", "Reasons"),
    "manage.review.stations": ("涉及站点", "Stations"),
    "manage.review.name": ("名称", "Name"),
    "manage.review.position": ("位置（WGS-84）", "Position (WGS-84)"),
    "manage.review.precision": ("精度", "Precision"),
    "manage.review.actions": ("处理", "Actions"),
    "manage.review.fix": ("修正位置", "Fix the position"),
    "manage.review.candidate.gcj02": (
        "按 GCJ-02（高德）坐标换算",
        "Read as GCJ-02 (Amap) and converted",
    ),
    "manage.review.candidate.bd09": (
        "按 BD-09（百度）坐标换算",
        "Read as BD-09 (Baidu) and converted",
    ),
    "manage.review.pin": ("手动输入坐标（WGS-84）", "Coordinates typed in (WGS-84)"),
    "manage.review.lon": ("经度", "Longitude"),
    "manage.review.lat": ("纬度", "Latitude"),
    "manage.review.reason": ("说明（可选）", "Note (optional)"),
    "manage.review.accept_reason": ("确认无误的理由（必填）", "Why it is right as is (required)"),
    "manage.review.accept": ("确认无误", "Accept as is"),
    "manage.review.dismiss": ("忽略", "Dismiss"),
    "manage.review.keep": ("保留哪一个站点", "Station to keep"),
    "manage.review.merge": ("合并重复站点", "Merge duplicates"),
    "manage.liuyou.heading": ("六有达标情况", "Six-haves (liuyou) completeness"),
    "manage.liuyou.legend": (
        "每项标准的数字为：达标 / 不达标 / 未知。",
        "Each criterion shows: pass / fail / unknown.",
    ),
    "manage.liuyou.pfu": ("达标/不达标/未知", "pass/fail/unknown"),
    "manage.liuyou.unit": ("区划", "Unit"),
    "manage.liuyou.stations": ("站点数", "Stations"),
    "manage.liuyou.complete": ("六有齐全", "Complete"),
    "manage.liuyou.counties": ("县区汇总", "Counties"),
    "manage.liuyou.townships": ("乡镇汇总", "Townships"),
    "manage.liuyou.detail": ("站点明细", "Stations"),
    "manage.liuyou.score": ("得分（0-6）", "Score (0-6)"),
    "manage.liuyou.download": ("下载六有报告（Excel）", "Download the six-haves report (Excel)"),
    "manage.liuyou.area_required": ("请指定区域代码", "Give an area code"),
    # history page with approvals (issue 15 items 5 and 6, integration)
    "manage.stations.approved_by": (
        "审核人 {reviewer} 批准（修改 #{id}）",
        "approved by {reviewer} (change #{id})",
    ),
    "manage.stations.steps": ("提交与审批", "Proposals and decisions"),
    "manage.stations.step.proposed": ("提交修改", "Proposed"),
    "manage.stations.revert_reason": (
        "恢复到版本 {version}：{reason}",
        "back to version {version}: {reason}",
    ),
    # registry workspace: stations on a map, history and revert (issue 15 items 2 and 6)
    "manage.stations.nav": ("站点", "Stations"),
    "manage.stations.heading": ("我的区域站点", "Stations in my areas"),
    "manage.stations.new": ("新建站点", "New station"),
    "manage.stations.search": ("搜索", "Search"),
    "manage.stations.q": ("名称、编号或地址", "Name, id or address"),
    "manage.stations.kind": ("类型", "Kind"),
    "manage.stations.status": ("状态", "Status"),
    "manage.stations.liuyou": ("六有", "Six-haves"),
    "manage.stations.liuyou_complete": ("六有齐全", "All six"),
    "manage.stations.liuyou_incomplete": ("六有不全", "Not all six"),
    "manage.stations.any": ("全部", "Any"),
    "manage.stations.count": ("共 {n} 个站点", "{n} stations"),
    "manage.stations.none": ("没有符合条件的站点。", "No stations match."),
    "manage.stations.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "manage.stations.prev": ("上一页", "Previous"),
    "manage.stations.next": ("下一页", "Next"),
    "manage.stations.edit": ("编辑站点", "Edit station"),
    "manage.stations.name": ("名称", "Name"),
    "manage.stations.name_en": ("英文名称", "English name"),
    "manage.stations.services": ("服务项目", "Services"),
    "manage.stations.facilities": ("设施", "Facilities"),
    "manage.stations.address": ("地址", "Address"),
    "manage.stations.hours": ("开放时间", "Opening hours"),
    "manage.stations.phone": ("联系电话", "Phone"),
    "manage.stations.union": ("所属工会", "Union"),
    "manage.stations.notes": ("备注", "Notes"),
    "manage.stations.precision": ("定位精度", "Position precision"),
    "manage.stations.liuyou_sign": ("统一标识", "Standard sign"),
    "manage.stations.liuyou_rules": ("制度上墙", "Rules posted"),
    "manage.stations.liuyou_manager": ("明确负责人", "Named manager"),
    "manage.stations.yes": ("是", "Yes"),
    "manage.stations.no": ("否", "No"),
    "manage.stations.unknown": ("未知", "Unknown"),
    "manage.stations.position": ("位置", "Position"),
    "manage.stations.lon": ("经度", "Longitude"),
    "manage.stations.lat": ("纬度", "Latitude"),
    "manage.stations.crs": ("坐标系", "Coordinate system"),
    "manage.stations.crs.wgs84": ("WGS-84（GPS、天地图）", "WGS-84 (GPS, Tianditu)"),
    "manage.stations.crs.gcj02": ("GCJ-02（从高德复制）", "GCJ-02 (copied from Amap)"),
    "manage.stations.crs.bd09": ("BD-09（从百度复制）", "BD-09 (copied from Baidu)"),
    "manage.stations.in_systems": ("三种坐标系下的位置", "The position in the three systems"),
    "manage.stations.map": ("站点位置地图：拖动图钉修改位置", "Station map: drag the pin to move"),
    "manage.stations.map_hint": (
        "拖动图钉、使用当前位置、搜索地址或输入坐标来设置位置。",
        "Set the position by dragging the pin, using your position, searching an address "
        "or typing coordinates.",
    ),
    "manage.stations.locate": ("使用我的位置", "Use my position"),
    "manage.stations.address_search": ("按地址查找", "Find by address"),
    "manage.stations.reason": ("修改原因", "Reason for the change"),
    "manage.stations.save": ("保存", "Save"),
    "manage.stations.create": ("创建", "Create"),
    "manage.stations.close": ("关闭站点", "Close station"),
    "manage.stations.reopen": ("重新开放", "Reopen"),
    "manage.stations.delete": ("删除站点", "Delete station"),
    "manage.stations.delete_hint": (
        "删除后可在历史记录中恢复。",
        "A deleted station can be restored from its history.",
    ),
    "manage.stations.history": ("修改历史", "History"),
    "manage.stations.saved": ("已保存。", "Saved."),
    "manage.stations.deleted": (
        "站点 {id} 已删除，可在其历史记录中恢复。",
        "Station {id} deleted; its history can restore it.",
    ),
    "manage.stations.errors": (
        "请修改标出的字段，尚未保存。",
        "Correct the marked fields; nothing was saved.",
    ),
    "manage.stations.warnings": ("已保存，但请检查：", "Saved; please check:"),
    "manage.stations.conflict": (
        "保存前此站点已被他人修改，您的修改尚未保存。下面是对方的修改；您的输入已保留，"
        "确认后可再次保存。",
        "Someone changed this station before you saved; your change was not saved. Their "
        "change is below; your input is kept: check it and save again.",
    ),
    "manage.stations.conflict_by": (
        "第 {version} 版，{actor}，{at}：{fields}",
        "Version {version}, {actor}, {at}: {fields}",
    ),
    "manage.stations.not_found": ("没有这个站点。", "No such station."),
    "manage.stations.no_version": (
        "缺少版本号，请重新打开页面。",
        "The version is missing; reload the page.",
    ),
    "manage.stations.history_heading": ("修改历史：{name}", "History: {name}"),
    "manage.stations.is_deleted": ("此站点已删除。", "This station is deleted."),
    "manage.stations.version": ("版本", "Version"),
    "manage.stations.action": ("操作", "Action"),
    "manage.stations.actor": ("修改人", "By"),
    "manage.stations.at": ("时间", "When"),
    "manage.stations.source": ("来源", "Source"),
    "manage.stations.field": ("字段", "Field"),
    "manage.stations.before": ("修改前", "Before"),
    "manage.stations.after": ("修改后", "After"),
    "manage.stations.revert": ("恢复到此版本", "Revert to this version"),
    "manage.stations.action.create": ("新建", "Created"),
    "manage.stations.action.edit": ("修改", "Edited"),
    "manage.stations.action.close": ("关闭", "Closed"),
    "manage.stations.action.reopen": ("重新开放", "Reopened"),
    "manage.stations.action.delete": ("删除", "Deleted"),
    "manage.stations.action.revert": ("恢复", "Reverted"),
    "manage.stations.action.import": ("导入", "Imported"),
    "manage.stations.source.web": ("网页", "web"),
    "manage.stations.source.upload": ("上传", "upload"),
    "manage.stations.source.cli": ("命令行", "command line"),
    "manage.stations.source.revert": ("恢复", "revert"),
    "manage.stations.source.review": ("审核", "review"),
    "manage.stations.source.migration": ("迁移", "migration"),
    "manage.stations.source.unknown": ("未知", "unknown"),
    "manage.stations.js.pin": ("站点位置（可拖动）", "Station position (drag to move)"),
    "manage.stations.js.locating": ("正在获取您的位置…", "Finding your position…"),
    "manage.stations.js.located": ("已使用您的位置", "Your position is used"),
    "manage.stations.js.locateFailed": ("无法获取您的位置", "Your position is not available"),
    "manage.stations.js.searching": ("正在查找…", "Searching…"),
    "manage.stations.js.found": ("已找到：", "Found:"),
    "manage.stations.js.demo": ("演示数据，位置近似", "Demo data, approximate positions"),
    "manage.stations.card": ("站点编辑", "Edit stations"),
    "manage.stations.card_text": (
        "在地图上查看和修改您区域内的站点。",
        "See and change your areas' stations on a map.",
    ),
    # -- manage.upload.*: registry upload through the web (issue 15 item 3) --
    "manage.nav.upload": ("上传名录", "Upload"),
    "manage.upload.heading": ("上传站点名录", "Upload a station registry"),
    "manage.upload.intro": (
        "上传 CSV、XLSX 或 GeoJSON 文件（不超过 {mb} MB）。写入前先预览："
        "新增、修改、未变、拒绝和区域外的行，确认后才写入。",
        "Upload a CSV, XLSX or GeoJSON file (at most {mb} MB). You see a preview first — new, "
        "changed, unchanged, rejected and outside-area rows — and nothing is written until you "
        "confirm.",
    ),
    "manage.upload.file": ("名录文件", "Registry file"),
    "manage.upload.reason": ("修改原因（记入历史）", "Reason (kept in the history)"),
    "manage.upload.submit": ("预览", "Preview"),
    "manage.upload.reason_missing": ("请填写修改原因", "Give a reason for the change"),
    "manage.upload.not_found": (
        "找不到这次上传的预览（可能已取消或不属于您）。",
        "This upload preview was not found (cancelled, or not yours).",
    ),
    "manage.upload.expired": (
        "这次上传的预览已过期，请重新上传。",
        "This upload preview has expired; upload the file again.",
    ),
    "manage.upload.already": ("这次上传已经写入。", "This upload has already been written."),
    "manage.upload.preview_heading": ("上传预览：{file}", "Upload preview: {file}"),
    "manage.upload.rows": ("共 {n} 行", "{n} rows"),
    "manage.upload.reason_shown": ("原因：{reason}", "Reason: {reason}"),
    "manage.upload.class.new": ("新增", "New"),
    "manage.upload.class.changed": ("修改", "Changed"),
    "manage.upload.class.unchanged": ("未变", "Unchanged"),
    "manage.upload.class.rejected": ("拒绝", "Rejected"),
    "manage.upload.class.outside": ("区域外", "Outside your areas"),
    "manage.upload.warnings": ("提醒", "Warnings"),
    "manage.upload.col.line": ("行号", "Line"),
    "manage.upload.col.id": ("编号", "ID"),
    "manage.upload.col.name": ("名称", "Name"),
    "manage.upload.col.county": ("县区", "County"),
    "manage.upload.col.field": ("字段", "Field"),
    "manage.upload.col.before": ("原值", "Before"),
    "manage.upload.col.after": ("新值", "After"),
    "manage.upload.col.reason": ("原因", "Reason"),
    "manage.upload.outside.outside": (
        "站点不在您负责的区域内",
        "The station is outside your areas",
    ),
    "manage.upload.outside.stored_outside": (
        "已存站点不在您负责的区域内",
        "The stored station is outside your areas",
    ),
    "manage.upload.outside.moved_out": (
        "此修改会把站点移出您负责的区域",
        "This change would move the station out of your areas",
    ),
    "manage.upload.none": ("无", "None"),
    "manage.upload.commit": ("确认写入 {n} 个站点", "Write {n} stations"),
    "manage.upload.strict": (
        "只在全部行都有效且在我的区域内时才写入（否则一行也不写）",
        "Write only if every row is valid and in my areas (otherwise write nothing)",
    ),
    "manage.upload.commit_note": (
        "拒绝和区域外的行不会写入；写入在一个事务中完成。",
        "Rejected and outside-area rows are never written; the write is one transaction.",
    ),
    "manage.upload.cancel": ("取消", "Cancel"),
    "manage.upload.report": ("下载报告", "Download the report"),
    "manage.upload.committed": (
        "已写入：新增 {inserted} 个，修改 {updated} 个。",
        "Written: {inserted} new, {updated} changed.",
    ),
    "manage.upload.conflict": (
        "以下站点在预览后被他人修改，本次未写入任何内容。请重新上传。",
        "These stations were changed by someone else after the preview; nothing was written. "
        "Upload the file again.",
    ),
    "manage.review.needs_reviewer": (
        "审批开启时，修正位置和合并重复由审核员执行",
        "With approval on, fixing positions and merging duplicates is for reviewers",
    ),
    "manage.upload.pending": (
        "已提交 {n} 项修改，等待所在区域的审核员批准后才会公开。",
        "{n} changes submitted; they are published once a reviewer of their area approves.",
    ),
    "manage.upload.card": (
        "用文件批量新增或修改您区域内的站点。",
        "Add or change your areas' stations from a file.",
    ),
    # demand signals of the public map (issue 15 item 8)
    "demand.signals": (
        "公众地图需求信号（近一年未被服务的搜索和定位，按 H3 网格计数）",
        "Public-map demand signals (unserved searches and located points of the past year, "
        "counted per H3 cell)",
    ),
    "err.signals_off": (
        "本系统已关闭需求信号记录（YIZHAN_DEMAND_SIGNALS），请选择其他需求来源。",
        "Demand signals are switched off here (YIZHAN_DEMAND_SIGNALS); choose another source.",
    ),
    "err.signals_none": (
        "该区域近一年没有达到 {n} 次的需求信号网格，请选择其他需求来源。",
        "No cell of this region has {n} or more demand signals in the past year; choose "
        "another source.",
    ),
    "signals.off": ("需求信号记录已关闭", "Demand signals are switched off"),
    "legend.signals": ("需求信号", "Demand signals"),
    "manage.signals.heading": (
        "近 {days} 天站点页面浏览和导航次数",
        "Station-page views and navigation clicks, last {days} days",
    ),
    "manage.signals.station": ("站点", "Station"),
    "manage.signals.views": ("浏览", "Views"),
    "manage.signals.navigations": ("导航", "Navigations"),
    "manage.signals.none": ("暂无记录。", "Nothing recorded yet."),
    # WORDS (issue 15 wave 3): validator reasons (``reason.<code>`` of
    # geo.records.issues.RowIssue, the same {placeholders} in both), conflicts, strict refusals
    "reason.outside_china": (
        "位置在中国服务范围（内地、香港、澳门）之外：({lon}, {lat})；请检查坐标及其顺序",
        "point is outside China's service area (mainland, Hong Kong, Macau): ({lon}, {lat}); "
        "check the coordinates and their order",
    ),
    "reason.geocode_failed": (
        "没有坐标，地址「{address}」也无法定位",
        "no coordinates, and the address {address!r} could not be geocoded",
    ),
    "reason.geocoded_county": (
        "地址只定位到县区（{formatted}），位置为近似，请核对",
        "geocoded only to the county ({formatted}); the position is approximate: please review",
    ),
    "reason.geocoded_prefecture": (
        "地址只定位到地市（{formatted}），位置为近似，请核对",
        "geocoded only to the prefecture ({formatted}); the position is approximate: please review",
    ),
    "reason.township_conflict": (
        "乡镇与代码或坐标不符：{detail}",
        "the stated township contradicts its code or position: {detail}",
    ),
    "reason.county_conflict": (
        "所报县区为{stated}，但位置在{found}（所报 {stated_code}，实际 {found_code}）",
        "stated county {stated} but the position is in {found} "
        "({stated_code} stated, {found_code} found)",
    ),
    "reason.county_code_conflict": (
        "坐标位于{found}（{found_code}），不在所报的{stated}（{stated_code}）",
        "the coordinates fall in {found} ({found_code}), not in the stated {stated} "
        "({stated_code})",
    ),
    "reason.county_code_conflict_gcj02": (
        "坐标位于{found}（{found_code}），不在所报的{stated}（{stated_code}）；"
        "看起来是标为 WGS-84 的 GCJ-02（高德/腾讯）坐标：请把坐标系设为 gcj02",
        "the coordinates fall in {found} ({found_code}), not in the stated {stated} "
        "({stated_code}); it looks like a GCJ-02 (Amap/Tencent) coordinate declared as WGS-84: "
        "set the coordinate system (crs) column to gcj02",
    ),
    "reason.name_missing": ("缺少名称", "name is missing"),
    "reason.kind_missing": ("缺少类型", "kind is missing"),
    "reason.kind_unknown": ("未知的类型「{value}」", "unknown kind {value!r}"),
    "reason.kind_unknown_hint": (
        "未知的类型「{value}」；是否指{suggestion}？",
        "unknown kind {value!r}; did you mean {suggestion}?",
    ),
    "reason.status_unknown": ("未知的状态「{value}」", "unknown status {value!r}"),
    "reason.status_unknown_hint": (
        "未知的状态「{value}」；是否指{suggestion}？",
        "unknown status {value!r}; did you mean {suggestion}?",
    ),
    "reason.facility_unknown": ("未知的设施「{value}」", "unknown facility {value!r}"),
    "reason.facility_unknown_hint": (
        "未知的设施「{value}」；是否指{suggestion}？",
        "unknown facility {value!r}; did you mean {suggestion}?",
    ),
    "reason.geometry_not_point": ("要素的几何不是点（Point）", "the geometry is not a Point"),
    "reason.lon_not_number": ("经度不是数字", "longitude is not a number"),
    "reason.lat_not_number": ("纬度不是数字", "latitude is not a number"),
    "reason.coordinates_missing": (
        "缺少坐标（经度/纬度）",
        "coordinates are missing (longitude/latitude)",
    ),
    "reason.coordinates_missing_no_address": (
        "缺少坐标（经度/纬度），也没有可定位的地址",
        "coordinates are missing (longitude/latitude), and there is no address to geocode",
    ),
    "reason.coordinates_half": ("经度和纬度只填了一个", "only one of longitude/latitude is given"),
    "reason.swapped_fixed": ("经纬度填反了，已对调", "longitude and latitude were swapped; fixed"),
    "reason.swapped": ("经纬度似乎填反了", "longitude and latitude look swapped"),
    "reason.lon_range": ("经度超出 -180 至 180 的范围", "longitude out of range -180..180"),
    "reason.lat_range": ("纬度超出 -90 至 90 的范围", "latitude out of range -90..90"),
    "reason.crs_unknown": (
        "未知的坐标系「{value}」；可用 wgs84、gcj02（高德/腾讯）、bd09（百度）",
        "unknown coordinate system {value!r}; use wgs84, gcj02 (Amap/Tencent) or bd09 (Baidu)",
    ),
    "reason.service_unknown": (
        "未知的服务「{value}」，已忽略",
        "unknown service {value!r} ignored",
    ),
    "reason.not_yes_no": ("「{value}」不是 是/否", "not a yes/no value: {value!r}"),
    "reason.not_datetime": (
        "不是日期或时间（请写 2026-11-01 或 2026-11-01T08:00:00）",
        "not a date/time (use 2026-11-01 or 2026-11-01T08:00:00)",
    ),
    "reason.hours_unreadable": (
        "无法识别的营业时间「{value}」；按原文保存，无法判断是否正在营业",
        "unreadable opening hours {value!r}; kept as text, open-now unknown",
    ),
    "reason.precision_unknown": (
        "未知的位置精度「{value}」；可用 {accepted}",
        "unknown precision {value!r}; use one of {accepted}",
    ),
    "reason.admin_code_length": (
        "区划代码应为 {digits} 位数字，已忽略",
        "admin code must be {digits} digits; ignored",
    ),
    "reason.phone_chars": ("电话号码含有非电话字符", "phone number has unexpected characters"),
    "reason.orig_unreadable": (
        "原始坐标列无法读取，已替换",
        "original coordinate columns unreadable; replaced",
    ),
    "reason.control_removed": (
        "已删除控制字符（NUL、ESC 等）",
        "control characters (NUL, ESC …) removed",
    ),
    "reason.control_removed_extra": (
        "已从「{column}」删除控制字符",
        "control characters removed from {column!r}",
    ),
    "reason.extra_not_json": (
        "extra 不是 JSON 对象，按文本保存",
        "extra is not a JSON object; kept as text",
    ),
    "reason.manager_named": (
        "负责人填的是姓名：记为已明确负责人，姓名不保存",
        "the manager given as a name: recorded as named, the name is not stored",
    ),
    "reason.duplicate_id": (
        "编号重复（首次出现在第 {line} 行）",
        "duplicate id (first on line {line})",
    ),
    "reason.duplicate_row": (
        "与第 {line} 行重复：名称、类型和地点相同",
        "duplicate of line {line}: same name, kind and place",
    ),
    "reason.duplicate_near": (
        "与第 {other} 行同名，相距 {distance_m} 米：疑似重复",
        "duplicate of line {other} with the same name, {distance_m} m away",
    ),
    "reason.duplicate_near_stored": (
        "与已有站点 {other} 同名，相距 {distance_m} 米：疑似重复",
        "duplicate of stored station {other} with the same name, {distance_m} m away",
    ),
    "reason.id_exists": ("站点 {id} 已存在", "station {id} exists already"),
    "reason.township_not_found": (
        "本县区没有名为 {name} 的乡镇，无法确定乡镇代码；请填写现有乡镇的名称",
        "no township of this county is named {name}, so its code is unknown; give the name "
        "of an existing township",
    ),
    "manage.words.field_reason": ("{field}：{reason}", "{field}: {reason}"),
    "manage.words.conflict": (
        "站点 {station_id} 在您打开的版本 {expected} 之后已被修改"
        "（现为版本 {current}，修改人：{who}）；请重新载入后再提交您的修改。",
        "Station {station_id} changed since version {expected} (now {current}, by {who}); "
        "reload and apply the change again.",
    ),
    "manage.words.conflict_change": (
        "版本 {version}：{actor} 于 {at} 修改了 {fields}",
        "version {version}: {actor} changed {fields} at {at}",
    ),
    "manage.words.someone": ("他人", "someone"),
    "manage.words.conflict_other": (
        "数据已被他人修改，请重新载入后再试。",
        "The data changed meanwhile: reload and try again.",
    ),
    "manage.words.change_decided": (
        "变更 #{change_id} 已处理（{state}），无法再次决定。",
        "Change #{change_id} was already decided ({state}).",
    ),
    "manage.words.strict_refused": (
        "严格模式：{rejected} 行被拒绝、{outside} 行在您负责的区域外，未写入任何数据。",
        "Strict mode: {rejected} rows rejected and {outside} outside your areas; nothing was "
        "written.",
    ),
    # township contradictions in the review queue (issue 15 item 4, slice TOWN)
    "manage.town.outlines": (
        "乡镇：已按部署提供的乡镇边界核对站点坐标（{path}）。",
        "Townships: station positions are checked against the deployment's township "
        "outlines ({path}).",
    ),
    "manage.town.no_outlines": (
        "乡镇：只核对乡镇名称和代码；未配置乡镇边界（YIZHAN_TOWNSHIP_BOUNDARIES），"
        "站点坐标没有按乡镇边界核对。",
        "Townships: only names and codes are checked; no township outlines are configured "
        "(YIZHAN_TOWNSHIP_BOUNDARIES), so positions were not checked against townships.",
    ),
    # LIST slice (issue 15 wave 3: the list's review state, pending changes on the form)
    "manage.list.review": ("审核状态", "Review state"),
    "manage.list.review.pending": ("待审批", "Pending approval"),
    "manage.list.review.rejected": ("已退回", "Rejected"),
    "manage.list.review.queue": ("待核查", "In the review queue"),
    "manage.list.review.clear": ("无待办", "Clear"),
    "manage.list.review_counts": ("按审核状态", "By review state"),
    "manage.list.own_pending": (
        "您对此站点有一项待审核的修改（提交于{at}）：再次保存将替换它",
        "You have a change of this station waiting for review (submitted {at}): "
        "saving again replaces it",
    ),
    "manage.list.other_pending": (
        "{author} 提交的修改正在等待审核（提交于{at}），此处只读显示",
        "A change by {author} is waiting for review (submitted {at}); shown read-only",
    ),
    "manage.list.open_change": ("查看修改 #{id}", "Open change #{id}"),
    "manage.list.superseded_by": ("已被修改 #{id} 取代", "Superseded by change #{id}"),
    # review queue: decisions carry the versions seen; the item's map (issue 15 wave 3, QUEUE)
    "manage.queue.conflict": (
        "您查看此事项后，涉及的站点已被他人修改，本次处理未执行。下面是对方的修改；"
        "页面已显示最新情况，请确认后重新处理。",
        "A station of this item was changed by someone else after you opened it; your decision "
        "was not applied. Their change is below; the page now shows the current state: check "
        "it and decide again.",
    ),
    "manage.queue.conflict_gone": (
        "您查看此事项后，涉及的站点已被他人修改，此事项已不在审核队列中，本次处理未执行。"
        "下面是对方的修改。",
        "A station of this item was changed by someone else after you opened it and the item "
        "is no longer in the queue; your decision was not applied. Their change is below.",
    ),
    "manage.queue.conflict_by": (
        "站点 {station} 第 {version} 版，{actor}，{at}：{fields}",
        "Station {station}, version {version}, {actor}, {at}: {fields}",
    ),
    "manage.queue.map": (
        "审核事项地图：站点、候选位置和修正图钉",
        "Review item map: stations, candidate positions and the fix pin",
    ),
    "manage.queue.map_hint": (
        "拖动图钉或点按地图设置修正位置，也可在下方选择带编号的候选位置。",
        "Drag the pin or tap the map to set the fixed position, or pick a numbered candidate "
        "below.",
    ),
    "manage.queue.map_station": ("站点当前位置", "Station's current position"),
    "manage.queue.map_candidate": ("候选位置", "Candidate position"),
    "manage.queue.map_pin": ("修正位置（可拖动）", "Fixed position (drag to move)"),
    "manage.queue.map_demo": ("演示数据，位置近似", "Demo data, approximate positions"),
    # upload preview map (issue 15 wave 3, maps)
    "manage.maps.heading": ("上传行在地图上的位置", "Where the uploaded rows lie"),
    "manage.maps.map": ("上传预览地图", "Map of the upload preview"),
    "manage.maps.legend": ("图例", "Legend"),
    "manage.maps.hint": (
        "点击标记可在表格中突出显示对应行；点击表格行可在地图上找到它。",
        "Click a marker to highlight its row in the table; click a row to find it on the map.",
    ),
    "manage.maps.no_position": ("{n} 行无坐标", "{n} rows without a position"),
    "manage.maps.not_drawn": (
        "标记过多：另有 {n} 行未在地图上画出（最多画 {limit} 个）。",
        "Too many markers: {n} more rows are not drawn (at most {limit}).",
    ),
    "manage.maps.before": ("原位置", "Position before"),
    "manage.maps.after": ("新位置", "New position"),
    "manage.maps.line": ("第 {n} 行", "Line {n}"),
    "manage.maps.show_row": ("在表格中查看", "Show in the table"),
    # REASONS (issue 15 item 4): the review queue's reasons (``review.reason.<code>`` of
    # geo.review.Reason, made in geo.review and geo.review_queue; the same {placeholders})
    "review.reason.no_coordinates": ("没有坐标", "no coordinates"),
    "review.reason.coarse_county": ("位置只精确到县区", "position known only to the county"),
    "review.reason.coarse_prefecture": (
        "位置只精确到地市",
        "position known only to the prefecture",
    ),
    "review.reason.coarse_unknown": ("位置精度未知", "position precision unknown"),
    "review.reason.county_conflict": (
        "所报县区为{stated}，但位置在{found}（所报 {stated_code}，实际 {found_code}）",
        "stated county {stated} but the position is in {found} "
        "({stated_code} stated, {found_code} found)",
    ),
    "review.reason.county_conflict_gcj02": (
        "所报县区为{stated}，但位置在{found}（所报 {stated_code}，实际 {found_code}）："
        "很可能是标为 WGS-84 的 GCJ-02（高德/腾讯）坐标",
        "stated county {stated} but the position is in {found} "
        "({stated_code} stated, {found_code} found): likely a GCJ-02 coordinate declared as "
        "WGS-84",
    ),
    "review.reason.county_code_conflict": (
        "坐标位于{found}（{found_code}），不在所报的{stated}（{stated_code}）",
        "coordinates fall in {found} ({found_code}), not in the stated {stated} ({stated_code})",
    ),
    "review.reason.county_code_conflict_gcj02": (
        "坐标位于{found}（{found_code}），不在所报的{stated}（{stated_code}）："
        "很可能是标为 WGS-84 的 GCJ-02（高德/腾讯）坐标",
        "coordinates fall in {found} ({found_code}), not in the stated {stated} "
        "({stated_code}): likely a GCJ-02 coordinate declared as WGS-84",
    ),
    "review.reason.township_code_county": (
        "所述乡镇代码 {township_code}（{township}）属于 {home}（{home_code}），"
        "不在所述县区 {county}（{county_code}）内",
        "the stated township code {township_code} ({township}) belongs to {home} "
        "({home_code}), not to the stated county {county} ({county_code})",
    ),
    "review.reason.township_code_county_found": (
        "所述乡镇代码 {township_code}（{township}）属于 {home}（{home_code}），"
        "不在坐标所在县区 {county}（{county_code}）内",
        "the stated township code {township_code} ({township}) belongs to {home} "
        "({home_code}), not to {county} ({county_code}), the county of the coordinates",
    ),
    "review.reason.township_guess_name": (
        "乡镇代码 {township_code}（{township}）是按位置估计的（非所述），"
        "与所述乡镇名称 {name} 不符",
        "the township code {township_code} ({township}) was estimated from the position (not "
        "stated) and does not match the stated township name {name}",
    ),
    "review.reason.township_name_code": (
        "所述乡镇名称 {name} 与所述乡镇代码 {township_code}（{township}）不符",
        "the stated township name {name} does not match the stated township code "
        "{township_code} ({township})",
    ),
    "review.reason.township_name_code_others": (
        "所述乡镇名称 {name} 与所述乡镇代码 {township_code}（{township}）不符；该名称是 {others}",
        "the stated township name {name} does not match the stated township code "
        "{township_code} ({township}); that name is {others}",
    ),
    "review.reason.township_unknown": (
        "所述乡镇 {name} 不是所述县区 {county}（{county_code}）现有的乡镇"
        "（地名库中该县区没有此名称或简称；如是撤并前的旧名，请改为现名）",
        "the stated township {name} is no current township of the stated county {county} "
        "({county_code}) (the gazetteer has no such name or short name in it; a name from "
        "before a merger should be changed to the current one)",
    ),
    "review.reason.township_unknown_found": (
        "所述乡镇 {name} 不是坐标所在县区 {county}（{county_code}）现有的乡镇"
        "（地名库中该县区没有此名称或简称；如是撤并前的旧名，请改为现名）",
        "the stated township {name} is no current township of {county} ({county_code}), the "
        "county of the coordinates (the gazetteer has no such name or short name in it; a "
        "name from before a merger should be changed to the current one)",
    ),
    "review.reason.township_outline": (
        "所述乡镇 {stated}（{stated_code}），坐标却在 {found}（{found_code}）的边界内"
        "（依据部署提供的乡镇边界）",
        "the stated township is {stated} ({stated_code}) but the coordinates are inside "
        "{found} ({found_code}) (by the deployment's township outlines)",
    ),
    "review.reason.township_outline_unknown": (
        "所述乡镇 {stated}（{stated_code}），坐标却在 {found_code}（地名库中无此代码）的边界内"
        "（依据部署提供的乡镇边界）",
        "the stated township is {stated} ({stated_code}) but the coordinates are inside "
        "{found_code} (a code the gazetteer does not have) (by the deployment's township "
        "outlines)",
    ),
    "review.reason.duplicate": (
        "同名站点，相距 {distance_m} 米（导入查重半径 {radius_m} 米）",
        "same name, {distance_m} m apart (import duplicate radius {radius_m} m)",
    ),
    "review.reason.stale": (
        "自 {since} 起未更新（超过 {days} 天）",
        "not updated since {since} (over {days} days)",
    ),
    "review.reason.stale_never": (
        "从未更新（超过 {days} 天）",
        "never updated (over {days} days)",
    ),
    # review decisions: an item decided by someone else meanwhile (issue 15 item 4)
    "manage.queue.decided_meanwhile": (
        "此事项已由 {actor} 于 {at} 处理为「{state}」（理由：{reason}），本次处理未执行。"
        "请查看此事项的最新情况，如仍需更改请重新处理。",
        'This item was decided as "{state}" by {actor} at {at} (reason: {reason}); your '
        "decision was not applied. Look at the item as it is now and decide again if it "
        "still needs changing.",
    ),
}

#: Report files offered for download on a plan page: ``name: (zh, en)`` labels.
DOWNLOAD_LABELS: dict[str, tuple[str, str]] = {
    "report.pdf": ("PDF 报告（A4，可直接转发）", "PDF report (A4, ready to forward)"),
    "plan.xlsx": ("Excel 报告", "Excel report"),
    "map.html": ("离线地图（HTML）", "Offline map (HTML)"),
    "plan.json": ("JSON 结果", "JSON result"),
    "coverage_curve.png": ("覆盖率曲线（PNG）", "Coverage curve (PNG)"),
    "travel_time_hist.png": ("出行时间分布（PNG）", "Travel times (PNG)"),
    "chosen_sites.geojson": ("选址 GeoJSON", "Chosen sites GeoJSON"),
    "chosen_sites.gpkg": ("选址 GeoPackage", "Chosen sites GeoPackage"),
    "coverage.xlsx": ("覆盖 Excel 表", "Coverage Excel workbook"),
    "by_county.csv": ("按县区 CSV", "By county CSV"),
    "by_township.csv": ("按乡镇 CSV", "By township CSV"),
    "summary.json": ("覆盖摘要 JSON", "Coverage summary JSON"),
    "gaps.geojson": ("服务空白 GeoJSON", "Service gaps GeoJSON"),
    "service_areas.geojson": ("服务范围 GeoJSON", "Service areas GeoJSON"),
    "cells.gpkg": ("网格 GeoPackage", "Cells GeoPackage"),
}

#: A job's state and its worker's stages (:class:`webapp.jobs._Progress`) as the pages name
#: them: ``code: (zh, en)``.
JOB_STATES: dict[str, tuple[str, str]] = {
    "queued": ("排队中", "Queued"),
    "running": ("正在运行", "Running"),
    "done": ("已完成", "Done"),
    "failed": ("运行失败", "Failed"),
    "cancelled": ("已取消", "Cancelled"),
}
JOB_STAGES: dict[str, tuple[str, str]] = {
    "queued": ("等待空闲的计算槽位", "Waiting for a free worker"),
    "starting": ("准备中", "Starting"),
    "demand": ("生成需求网格", "Building the demand"),
    "travel model": ("准备出行模型", "Preparing the travel model"),
    "travel times": ("计算出行时间", "Computing travel times"),
    "candidates": ("生成候选点", "Building the candidates"),
    "matrix": ("计算覆盖矩阵", "Computing the coverage matrix"),
    "solving": ("求解选址", "Solving"),
    "coverage after": ("计算规划后覆盖", "Computing the coverage after the plan"),
    "exports": ("导出表格与图层", "Writing tables and layers"),
    "map layers": ("生成地图图层", "Writing map layers"),
    "report": ("生成报告", "Writing the report"),
    "done": ("完成", "Done"),
}
#: Messages a job stores (:mod:`webapp.jobs`, in Chinese) as English: ``(pattern, en)``.
_JOB_MESSAGES_EN: list[tuple[re.Pattern, str]] = [
    (
        re.compile(r"工作进程意外退出.*"),
        "The worker process ended unexpectedly (out of memory or killed): run it again",
    ),
    (
        re.compile(r"运行该分析的服务器进程已停止.*"),
        "The server process running this analysis stopped (killed or restarted): run it again",
    ),
    (re.compile(r"服务器在运行期间重启.*"), "The server restarted while this ran: run it again"),
    (
        re.compile(r"您已有 (\d+) 个分析在排队或运行（每人最多 (\d+) 个）.*"),
        r"You already have \1 analyses queued or running (at most \2 each): wait for them "
        r"or cancel one first",
    ),
    (re.compile(r"排队中：其他分析正在运行"), "Queued: other analyses are running"),
    (re.compile(r"服务器正在停止.*"), "The server is stopping: try again later"),
    (re.compile(r"无法启动后台任务.*"), "Could not start the background task: try again later"),
    (re.compile(r"已取消"), "Cancelled"),
    (re.compile(r"超过时间限制（([\d.]+) 秒），已停止"), r"Stopped at the time limit (\1 s)"),
    (
        re.compile(r"服务器已停止，分析被中断.*"),
        "The server stopped and interrupted the analysis: run it again",
    ),
    (
        re.compile(r"内部错误.*"),
        "Internal error: the run failed and was logged; contact the administrator",
    ),
    (re.compile(r"乡镇表无法使用：(.*)"), r"The township table cannot be used: \1"),
    (re.compile(r"候选点文件无法使用：(.*)"), r"The candidates file cannot be used: \1"),
    (
        re.compile(r"预算规划需要每个候选点的费用.*"),
        "A budget plan needs a cost for every candidate: the file lacks cost values",
    ),
    (
        re.compile(r"新增站点数 K = (\d+) 超过候选点数量 (\d+)"),
        r"K = \1 stations to add is more than the \2 candidates",
    ),
]


def lang_of(value: object) -> str:
    """``"en"`` for a language tag starting with ``en``, else ``"zh"`` (the default)."""
    return "en" if str(value or "").lower().startswith("en") else "zh"


def text(key: str, lang: str = "zh", **params: object) -> str:
    """The string of ``key`` in ``lang`` with its ``{placeholders}`` filled.

    An unknown key is returned as it is (a template typo shows, it does not crash).
    """
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    out = entry[1] if lang_of(lang) == "en" else entry[0]
    return out.format(**params) if params else out


def pick(pair: tuple[str, str] | None, lang: str, default: str = "") -> str:
    """The ``lang`` half of a ``(zh, en)`` pair."""
    if not pair:
        return default
    return pair[1] if lang_of(lang) == "en" else pair[0]


def job_message(message: str, lang: str = "zh") -> str:
    """A message a job stored (Chinese) in ``lang``: known ones are translated to English;
    another is kept as it is."""
    if lang_of(lang) != "en" or not message:
        return message
    for pattern, en in _JOB_MESSAGES_EN:
        m = pattern.fullmatch(message.strip())
        if m:
            return m.expand(en)
    return message


#: How a solved plan is labelled: ``(label, explanation)`` in zh and en, by status.
_STATUS = {
    "optimal": (
        ("最优（已证明）", "方案已达到证明的上界：没有任何方案能覆盖更多。"),
        ("optimal (proven)", "The plan reaches the proven bound: no plan can cover more."),
    ),
    "feasible": (
        (
            "可行解（未证明最优）",
            "整数规划在时间上限内找到的方案；与上界的差距说明最多还可能差多少。",
        ),
        (
            "feasible (not proven optimal)",
            "The integer program's plan within the time limit; the gap to the bound says how "
            "much better a plan could at most be.",
        ),
    ),
    "greedy": (
        ("贪心近似", "逐个加入增益最大的站点，速度快；与上界的差距说明最多还可能差多少。"),
        (
            "greedy approximation",
            "Adds the station of largest gain one at a time, fast; the gap to the bound says "
            "how much better a plan could at most be.",
        ),
    ),
    "infeasible": (
        ("目标无法达到", "即使选中全部候选点也达不到目标覆盖率；方案给出能达到的最高覆盖率。"),
        (
            "target out of reach",
            "Even all the candidates together miss the target coverage; the plan gives the "
            "highest coverage reachable.",
        ),
    ),
}

#: How the bound was proven, in words.
BOUND_SOURCES = {
    "lp": ("线性规划松弛", "the linear-programming relaxation"),
    "lp-dual": ("线性规划对偶", "the linear-programming dual"),
    "lagrangian": ("拉格朗日松弛", "a Lagrangian relaxation"),
    "mip": ("整数规划求解器", "the integer-programming solver"),
    "submodular": ("子模性上界", "the submodular bound"),
    "capacity": ("容量上界", "the capacity bound"),
    "trivial": ("全部可覆盖需求", "all coverable demand"),
}

SOLVERS = {"greedy": "贪心", "exact": "精确（整数规划）"}
SOLVERS_EN = {"greedy": "greedy", "exact": "exact (integer programming)"}


def solver_name(code: object, lang: str = "zh") -> str:
    """A solver's name in ``lang`` (the code itself when unknown)."""
    names = SOLVERS_EN if lang_of(lang) == "en" else SOLVERS
    return names.get(str(code), str(code))


def status_label(solver: str, status: str, lang: str = "zh") -> tuple[str, str]:
    """``(label, explanation)`` of a plan's solver status.

    A greedy answer that a bound proves optimal is 最优（已证明）; one that is not is
    贪心近似; an exact solver's answer without proof is 可行解（未证明最优）.
    """
    i = 1 if lang_of(lang) == "en" else 0
    if status == "feasible" and solver == "greedy":
        return _STATUS["greedy"][i]
    entry = _STATUS.get(status)
    return entry[i] if entry else (str(status), "")


def demand_unit(params: Mapping, summary: Mapping | None = None) -> str:
    """The unit of the demand of a job: 人, 个乡镇, 个县区, 个需求点 or 权重 (a key of the
    catalogue's ``unit.*``; :func:`unit_text` words it in a language)."""
    unit = (summary or {}).get("demand_unit")
    if params.get("population") or params.get("population_table"):
        return "人"
    if params.get("demand_points"):
        return {"population": "人", "weight": "权重"}.get(str(unit), "个需求点")
    if unit == "population":  # township seats weighted by a table
        return "人"
    return "个乡镇"


def unit_text(unit: str, lang: str = "zh", column: bool = False) -> str:
    """A demand unit (:func:`demand_unit`) in ``lang``; ``column`` words it for a column
    header (乡镇, not 个乡镇)."""
    key = ("unit.col." if column else "unit.") + unit
    return text(key, lang) if key in MESSAGES else unit


def amount(value: float | None, unit: str, lang: str = "zh") -> str:
    """``value`` with its unit: "12,345 人", "9 个乡镇", "3.5 权重" (English: "12,345 people")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    whole = unit == "人" or abs(value - round(value)) < 1e-6  # people spread by area: whole
    number = f"{value:,.0f}" if whole else f"{value:,.1f}"
    if lang_of(lang) == "en":
        return f"{number} {unit_text(unit, 'en')}"
    return f"{number} {unit}" if unit.startswith("个") or unit == "人" else f"{number}（{unit}）"


def plan_figures(
    plan: Mapping, params: Mapping, chosen_sites: list[Mapping], lang: str = "zh"
) -> dict:
    """The plan page's figures as text: status, bound, gap, cost.

    Returns ``{"status", "status_explain", "bound", "bound_explain", "gap", "gap_explain",
    "cost"}``. The bound is in the objective's unit: covered demand (with its share of the
    demand) for "best sites" and budget plans, a number of sites for "fewest sites"; the gap
    is ``(bound − found) / bound`` of the total covered (for fewest sites:
    ``(sites − bound) / sites``).
    """
    en = lang_of(lang) == "en"
    label, explain = status_label(str(plan.get("solver")), str(plan.get("status")), lang)
    unit = demand_unit(params)
    bound, total = plan.get("bound"), plan.get("total_weight") or 0.0
    code = str(plan.get("bound_source"))
    source = pick(BOUND_SOURCES.get(code), lang, code)
    out = {
        "status": label,
        "status_explain": explain,
        "bound_title": "Proven bound" if en else "证明的上界",
    }
    if bound is None or (isinstance(bound, float) and not math.isfinite(bound)):
        out.update(bound="—", bound_explain="", gap="—", gap_explain="")
    elif plan.get("problem") == "lscp":
        n = len(chosen_sites)
        least = math.ceil(bound - 1e-6)
        gap = (n - bound) / n if n else 0.0
        out["gap"] = f"{max(gap, 0.0):.1%}"
        if en:
            out["bound_title"] = "Proven lower bound"
            out["bound"] = f"at least {least} stations"
            out["bound_explain"] = (
                f"Proven by {source}: no plan reaches the target with fewer stations."
            )
            out["gap_explain"] = (
                "(stations in the plan − bound) ÷ stations in the plan: at most this many "
                "stations may be more than needed."
            )
        else:
            out["bound_title"] = "证明的下界"
            out["bound"] = f"至少 {least} 个站点"
            out["bound_explain"] = f"由{source}证明：达到目标覆盖率不可能少于这么多站点。"
            out["gap_explain"] = "（方案站点数 − 下界）÷ 方案站点数：最多可能多用了这么多站点。"
    else:
        found = float(plan.get("covered_after") or 0.0)
        gap = plan.get("gap_of_total")  # geo.plan.Plan.gap_of_total; older results lack it
        if gap is None:
            gap = (bound - found) / bound if bound > 0 else 0.0
        out["gap"] = f"{max(gap, 0.0):.1%}"
        if en:
            share = f" ({bound / total:.1%} of the demand)" if total > 0 else ""
            out["bound"] = f"at most {amount(bound, unit, 'en')} covered{share}"
            out["bound_explain"] = f"Proven by {source}: no plan can cover more."
            out["gap_explain"] = (
                f"(bound − covered by the plan) ÷ bound, of the total covered: the plan covers "
                f"{amount(found, unit, 'en')}; the best plan covers at most this much more."
            )
        else:
            share = f"（需求的 {bound / total:.1%}）" if total > 0 else ""
            out["bound"] = f"最多覆盖 {amount(bound, unit)}{share}"
            out["bound_explain"] = f"由{source}证明：任何方案都不可能覆盖更多。"
            out["gap_explain"] = (
                f"（上界 − 方案覆盖）÷ 上界，按总覆盖计：方案覆盖 {amount(found, unit)}，"
                "最优方案最多比它多覆盖这么多。"
            )
    out["cost"] = cost_text(chosen_sites, params, lang)
    return out


def cost_text(chosen_sites: list[Mapping], params: Mapping, lang: str = "zh") -> str:
    """ "费用 12,000 元（一次性）…", or 未设置费用 when no site has a cost."""
    costs = [s.get("cost") for s in chosen_sites]
    known = [float(c) for c in costs if c is not None and not (isinstance(c, float) and c != c)]
    if not known:
        return text("no_cost", lang)
    out = text("yuan", lang, v=f"{sum(known):,.0f}")
    if len(known) < len(costs):
        out += text("cost.partly", lang, n=len(costs) - len(known))
    return out


# ---------------------------------------------------------------- technical sentences

_POSITION_SOURCES = {
    "sizhi_bbox_centre": "区划范围中心",
    "cpca_seat": "区划驻地",
    "outline_point": "区划边界内一点",
    "geonames_name": "GeoNames 地名匹配",
    "geonames_pinyin": "GeoNames 拼音匹配",
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
        re.compile(
            r"(?P<n>\d+) townships have no cell of their own \(no position, or no cell nearest "
            r"to it\) and were spread over their county: (?P<ex>.*)"
        ),
        lambda m: (
            f"{m['n']} 个乡镇没有自己的网格（无位置或附近没有网格），人口已分摊到所在县：{m['ex']}"
        ),
    ),
    (
        re.compile(
            r"(?P<n>\d+) table units have no cell in the region \((?P<p>[\d,]+) people not "
            r"placed\): (?P<ex>.*)"
        ),
        lambda m: f"表中 {m['n']} 个区划单元在区域内没有网格（{m['p']} 人未计入）：{m['ex']}",
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


def technical(text_: str, lang: str = "zh") -> str:
    """A technical sentence of :mod:`geo` in ``lang``: Chinese through the catalogue
    (:func:`technical_zh`); English as :mod:`geo` wrote it (its original words), without the
    Chinese glosses it carries (位置未知)."""
    if lang_of(lang) != "en":
        return technical_zh(text_)
    return re.sub(r"\s*[（(]位置未知[)）]", "", str(text_).strip())


def model_zh(model: Mapping, lang: str = "zh") -> str:
    """The travel model named for a planner: the crow-fly estimate as the reports name it
    (:func:`geo.report.model_text`), or the road network."""
    en = lang_of(lang) == "en"
    if model.get("model") == "crowfly" and model.get("speed_kph") and model.get("circuity"):
        from geo.report import model_text

        return model_text(dict(model), "en" if en else "zh")
    if model.get("model") == "crowfly":
        return "crow-fly estimate" if en else "直线估算"
    return "road network (the server's OSM roads)" if en else "道路网络（服务器配置的 OSM 路网）"


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
COMPARE_LABELS_EN = {
    "problem": "Planning problem",
    "solver": "Solver",
    "status": "Solver status",
    "share_before": "Coverage (before)",
    "share_after": "Coverage (after)",
    "gap": "Gap to the bound (of the added coverage)",
    "cost": "One-off cost",
    "yearly_cost": "Yearly cost",
    "sites": "Chosen stations",
}
PROBLEMS = {
    "mclp": "新增 K 个最佳站点",
    "lscp": "达到目标覆盖率的最少站点",
    "budget": "预算内最佳站点",
}
PROBLEMS_EN = {
    "mclp": "Add the K best stations",
    "lscp": "Fewest stations reaching a target coverage",
    "budget": "Best stations within a budget",
}


def compare_label(figure: str, lang: str = "zh") -> str:
    """A row name of the scenario comparison in ``lang``."""
    labels = COMPARE_LABELS_EN if lang_of(lang) == "en" else COMPARE_LABELS
    return labels.get(figure, figure)


def compare_value(figure: str, value: object, row: Mapping | None = None, lang: str = "zh") -> str:
    """One cell of the scenario comparison as text (shares in %, money in 元, codes named)."""
    en = lang_of(lang) == "en"
    if value is None:
        return "—"
    if figure in ("share_before", "share_after", "gap"):
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if figure in ("cost", "yearly_cost"):
        if not value:
            return text("no_cost", lang)
        return text("yuan", lang, v=f"{float(value):,.0f}")  # type: ignore[arg-type]
    if figure == "problem":
        return (PROBLEMS_EN if en else PROBLEMS).get(str(value), str(value))
    if figure == "solver":
        return solver_name(value, lang)
    if figure == "status":
        return status_label(str((row or {}).get("solver", "")), str(value), lang)[0]
    if isinstance(value, list | tuple):
        return text("list.sep", lang).join(str(v) for v in value)
    return str(value)


def headline(summary: Mapping, unit: str, lang: str = "zh") -> str:
    """The coverage's one-sentence headline: :mod:`geo`'s own (Chinese), or the same facts
    in English: the share covered within the largest threshold over the placed demand, and
    how many units have no position."""
    if lang_of(lang) != "en":
        return str(summary.get("headline") or "")
    thresholds = summary.get("thresholds") or []
    if not thresholds:
        return ""
    last = thresholds[-1]
    share = last.get("share")
    pct = "—" if share is None else f"{share:.1%}"
    placed = summary.get("demand_placed", last.get("demand", 0.0)) or 0.0
    out = (
        f"Within {last['max_minutes']:g} min: {float(last['covered']):,.0f} of {placed:,.0f} "
        f"{unit_text(unit, 'en')} (placed) covered ({pct})"
    )
    unplaced = summary.get("units_unplaced") or 0
    if unplaced:
        out += f"; {unplaced} more units have no position"
    return out


# ---------------------------------------------------------------- reasons and conflicts
# WORDS (issue 15 wave 3): what geo says in English (a RowIssue's reason, a Conflict) in the
# page's language, from their codes and details.


def _get(obj: object, name: str) -> object:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def reason_text(issue: object, lang: str = "zh") -> str:
    """A validation issue's reason (a :class:`geo.records.issues.RowIssue`, or a mapping /
    object with ``code``, ``params`` and ``reason``) in ``lang``: the catalogue's
    ``reason.<code>`` filled with its params; the English ``reason`` for an issue without a
    known code (an older stored preview)."""
    code = str(_get(issue, "code") or "")
    params = _get(issue, "params") or {}
    if code == "township_conflict" and isinstance(params, Mapping) and params.get("review_code"):
        # the review queue's township reason, carried with its own code and params
        rest = {k: v for k, v in params.items() if k not in ("detail", "review_code")}
        why = {"code": params["review_code"], "params": rest}
        detail = review_reason_text(why, lang, fallback=str(params.get("detail") or ""))
        return text("reason.township_conflict", lang, detail=detail)
    if code and f"reason.{code}" in MESSAGES and isinstance(params, Mapping):
        try:
            return text(f"reason.{code}", lang, **params)
        except (KeyError, IndexError, ValueError):
            pass
    return str(_get(issue, "reason") or "")


def review_reason_text(reason: object, lang: str = "zh", fallback: str = "") -> str:
    """A review queue reason (a :class:`geo.review.Reason`, or a mapping / object with
    ``code`` and ``params``, as in a queue item's JSON ``reason_codes``) in ``lang``: the
    catalogue's ``review.reason.<code>`` filled with its params; ``fallback`` (default: the
    reason's ``text``) for a reason without a known code."""
    code = str(_get(reason, "code") or "")
    params = _get(reason, "params") or {}
    if code and f"review.reason.{code}" in MESSAGES and isinstance(params, Mapping):
        try:
            return text(f"review.reason.{code}", lang, **params)
        except (KeyError, IndexError, ValueError):
            pass
    return fallback or str(_get(reason, "text") or "")


def field_reason(field_label: str, issue: object, lang: str = "zh") -> str:
    """``名称：<reason>`` (``name: <reason>``) of one issue in ``lang``."""
    reason = reason_text(issue, lang)
    if not field_label:
        return reason
    return text("manage.words.field_reason", lang, field=field_label, reason=reason)


def conflict_text(details: Mapping, lang: str = "zh", when: Callable | None = None) -> str:
    """The refusal of a write whose station changed since the version the user saw, from a
    :class:`geo.errors.Conflict`'s details (``station_id``, ``expected_version``,
    ``current_version``, ``changes``: actor, time, fields), in ``lang``; one line per later
    change follows. ``when`` formats a change's ISO time (default: as it is). A conflict
    without a station (e.g. a decided change) gets the general sentence."""
    from geo.records.audit import field_label

    if not details.get("station_id"):
        return text("manage.words.conflict_other", lang)
    changes = list(details.get("changes") or [])
    actors = sorted({str(c.get("actor")) for c in changes if c.get("actor")})
    sep = text("list.sep", lang)
    out = text(
        "manage.words.conflict",
        lang,
        station_id=details.get("station_id"),
        expected=details.get("expected_version", "?"),
        current=details.get("current_version", "?"),
        who=sep.join(actors) or text("manage.words.someone", lang),
    )
    lines = [
        text(
            "manage.words.conflict_change",
            lang,
            version=c.get("version", "?"),
            actor=c.get("actor") or text("manage.words.someone", lang),
            at=(when(c.get("at")) if when else c.get("at")) or "",
            fields=sep.join(field_label(str(f), lang_of(lang)) for f in c.get("fields") or []),
        )
        for c in changes
    ]
    return " ".join([out, *lines])
