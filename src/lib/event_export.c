/* being written */
typedef int dz_placeholder_event_export;
