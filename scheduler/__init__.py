"""The clock: JobQueue ticks that make due work happen. No business state lives here."""
