"""Meeting readiness: before each provincial online meeting, is every commune's center ready?

`calendar` reads the meetings (inventory and .ics) and says when checks fall due (T-60, T-15 by
default); `readiness` judges each center from the latest results; `board` runs it inside `netmon run`
and exports it; `notify` sends the one summary to the provincial office through Alertmanager.
"""
