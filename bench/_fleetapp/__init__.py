"""A throwaway tenant app for bench/migrations.py: its migrations are written at run time."""
