/* being written */
typedef int dz_placeholder_cmd_notify;
