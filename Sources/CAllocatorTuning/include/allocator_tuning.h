// glibc malloc settings for a process that moves large messages: set once, before main, by a constructor.
#ifndef SWIFTPS_ALLOCATOR_TUNING_H
#define SWIFTPS_ALLOCATOR_TUNING_H

/// 1 once the settings are in place (the constructor ran), else 0.
int swiftps_allocator_tuned(void);

/// How many malloc arenas the process has now (1 when the settings hold), or -1 if glibc cannot tell.
int swiftps_allocator_arenas(void);

#endif
