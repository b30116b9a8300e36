/* being written */
typedef int dz_placeholder_openpgp;
