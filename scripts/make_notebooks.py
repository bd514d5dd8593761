"""Write the planner notebooks in notebooks/ (cells as code here, so diffs stay readable).

Run: .venv/bin/python scripts/make_notebooks.py  — the tests execute every notebook.
"""

from pathlib import Path

import nbformat as nbf

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def liuzhou_legal_aid() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
    nb.cells = [
        md(
            "# 柳州 · 一小时法律援助服务圈 (Liuzhou's one-hour legal-aid circle)\n\n"
            "Which townships of Liuzhou can reach a union legal-aid post within an hour by car, "
            "and where are the gaps? This walkthrough runs on the **illustrative demo "
            "registry** (positions approximate) with the **crow-fly estimate** "
            "(straight-line distance × circuity ÷ speed), so the figures show the method, "
            "not Liuzhou's real coverage. With an OSM extract, pass `--network` / use "
            "`geo.travel.network.NetworkModel` instead."
        ),
        code(
            "from geo import demand as dm\n"
            "from geo.records import read_registry\n"
            "from geo.settings import DATA_DIR\n"
            "from geo.workflows import CoverageParams, run_coverage\n\n"
            "stations, report = read_registry(DATA_DIR / 'demo' / 'stations.csv')\n"
            "legal = [s for s in stations if s.kind == 'legal_aid' and s.prefecture_code == "
            "'450200']\n"
            "print(len(stations), 'demo stations;', len(legal), 'legal-aid posts in Liuzhou')"
        ),
        md(
            "## Demand: one unit per township\n\nNo population data ships with Yizhan. Without "
            "a population raster or table, each township whose position is known counts as "
            "one unit: the result is the *share of townships* within an hour."
        ),
        code(
            "seats = dm.from_admin_seats('450200', level='township')\n"
            "print(seats.source)\n"
            "for w in seats.warnings:\n"
            "    print('warning:', w)"
        ),
        md("## Travel times and the circle"),
        code(
            "# car on the crow-fly estimate: 30 km/h, circuity 1.3; demand: the township seats\n"
            "params = CoverageParams(kinds=['legal_aid'], region='450200', max_minutes=[30, 60],"
            " mode='car')\n"
            "result = run_coverage(params, stations).result\n"
            "for t in result.summary()['thresholds']:\n"
            "    print(f\"≤ {t['max_minutes']:g} min: {t['covered']:.0f} of {t['demand']:.0f} "
            "townships ({t['share']:.0%})\")\n"
            "result.record['model']"
        ),
        md("## By county"),
        code(
            "by_county = result.by_admin('county')\n"
            "by_county[['code', 'name', 'demand', 'covered', 'share', 'mean_minutes', "
            "'p90_minutes', 'nearest_station']]"
        ),
        md("## By township: the ones outside the hour"),
        code(
            "by_township = result.by_admin('township')\n"
            "by_township.loc[by_township['share'] < 1, ['code', 'name', 'mean_minutes', "
            "'nearest_station']]"
        ),
        md(
            "## Gaps and the map\n\nThe map embeds Leaflet (works offline); cells are "
            "coloured by travel-time band."
        ),
        code(
            "gaps = result.gaps(60)\n"
            "print(len(gaps), 'townships beyond an hour')\n"
            "m = result.to_folium()\n"
            "m"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def baise_workers_homes() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
    nb.cells = [
        md(
            "# 百色 · 乡镇职工之家选址 (Baise: where to build township workers' homes)\n\n"
            "With 400,000 yuan and 80,000 yuan per township workers' home, which townships "
            "first, so that the most townships reach a home within an hour by car? Runs on "
            "the **illustrative demo registry** (positions approximate) with the **crow-fly "
            "estimate**; candidates are the township positions (approximate)."
        ),
        code(
            "from geo.workflows import PlanParams, run_plan\n"
            "from geo.records import read_registry\n"
            "from geo.settings import DATA_DIR\n\n"
            "stations, _ = read_registry(DATA_DIR / 'demo' / 'stations.csv')\n"
            "params = PlanParams(kind='workers_home', region='451000', budget=400_000,\n"
            "                    cost_per_site=80_000, max_minutes=60, mode='car')\n"
            "run = run_plan(params, stations)\n"
            "p = run.plan\n"
            "print(f'{p.problem}: {len(p.chosen)} homes, share {p.share_before:.0%} → "
            "{p.share_after:.0%}, cost {p.cost:,.0f} yuan, gap ≤ {p.gap:.1%}')"
        ),
        md("## The chosen townships, in the order they add the most"),
        code(
            "from geo.report import chosen_sites\n"
            "chosen_sites(p, run.candidates)[['rank', 'name', 'gain', 'cost', "
            "'share_after']]"
        ),
        md("## Greedy against the exact optimum (HiGHS)"),
        code(
            "exact = run_plan(PlanParams(**{**params.to_dict(), 'solver': "
            "'exact'}), stations).plan\n"
            "print('greedy', p.objective, ' exact', exact.objective, exact.status)"
        ),
        md("## By county, before and after"),
        code(
            "before = run.before.by_admin('county').set_index('code')\n"
            "after = run.after.by_admin('county').set_index('code')\n"
            "before[['name', 'share']].join(after[['share']], rsuffix='_after')"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


if __name__ == "__main__":
    NOTEBOOKS.mkdir(exist_ok=True)
    nbf.write(liuzhou_legal_aid(), NOTEBOOKS / "01_liuzhou_legal_aid_coverage.ipynb")
    nbf.write(baise_workers_homes(), NOTEBOOKS / "02_baise_workers_homes_plan.ipynb")
