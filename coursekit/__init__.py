"""The machinery every chapter shares, whatever its network: checks and their report (report.py), student files
(student_code.py), atomic files (files.py), the startup generator (startup.py), the grader (grading/, sandbox/)."""
