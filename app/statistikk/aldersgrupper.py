"""Seed 004's age groups: the published share of residents with a digital mailbox by age.

The key figures group active persons by these ages (app.statistikk.store), and the synthetic
register draws ages and mailboxes by them (app.testdata.seed).
"""

from __future__ import annotations

# (first age, last age, residents, % with a digital mailbox); the last group is open upwards.
AGE_GROUPS: tuple[tuple[int, int, int, float], ...] = (
    (15, 20, 398_323, 46.59),
    (21, 25, 340_129, 80.06),
    (26, 30, 375_829, 79.51),
    (31, 35, 400_147, 77.29),
    (36, 40, 375_765, 77.18),
    (41, 45, 360_564, 75.88),
    (46, 50, 360_728, 76.80),
    (51, 55, 382_184, 71.68),
    (56, 60, 355_156, 66.93),
    (61, 65, 315_353, 63.18),
    (66, 70, 286_212, 58.99),
    (71, 75, 251_694, 52.26),
    (76, 80, 214_486, 39.52),
    (81, 85, 121_197, 27.30),
    (86, 90, 65_050, 15.75),
    (91, 100, 36_258, 6.69),
)
