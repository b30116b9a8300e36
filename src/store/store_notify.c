/* being written */
typedef int dz_placeholder_store_notify;
