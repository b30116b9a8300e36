/* being written */
typedef int dz_placeholder_mime;
