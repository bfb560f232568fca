"""What every format shares: errors a user can act on (known vs bug), the atomic writer, the
decompression budget, files on disk, hot SQLite journals, small bounded helpers.
"""
