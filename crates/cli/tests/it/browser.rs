// browser: see below
