/** The MySQL/MariaDB server error numbers the adapter acts on (`error.errno`). */
export const MysqlErrno = {
	/** InnoDB chose this transaction as a deadlock's victim and rolled it back whole. */
	ER_LOCK_DEADLOCK: 1213,
	/** A row lock wait timed out; with innodb_rollback_on_timeout the whole transaction is rolled back. */
	ER_LOCK_WAIT_TIMEOUT: 1205,
	/** The lock table is full; InnoDB rolls the transaction back. */
	ER_LOCK_TABLE_FULL: 1206,
	/** `KILL QUERY` stopped the statement (our timeout or row limit, or someone else's kill). */
	ER_QUERY_INTERRUPTED: 1317,
	/** MariaDB: `max_statement_time` exceeded. */
	ER_STATEMENT_TIMEOUT: 1969,
	/** MySQL: `MAX_EXECUTION_TIME` exceeded. */
	ER_QUERY_TIMEOUT: 3024,
	ER_SERVER_SHUTDOWN: 1053,
	ER_ABORTING_CONNECTION: 1152,
	ER_NET_PACKET_TOO_LARGE: 1153,
	ER_NET_READ_ERROR_FROM_PIPE: 1154,
	ER_NET_FCNTL_ERROR: 1155,
	ER_NET_PACKETS_OUT_OF_ORDER: 1156,
	ER_NET_UNCOMPRESS_ERROR: 1157,
	ER_NET_READ_ERROR: 1158,
	ER_NET_READ_INTERRUPTED: 1159,
	ER_NET_ERROR_ON_WRITE: 1160,
	ER_NET_WRITE_INTERRUPTED: 1161,
	ER_NEW_ABORTING_CONNECTION: 1184,
	/** MariaDB: the connection was killed (`KILL`), sent just before the server closes it. */
	ER_CONNECTION_KILLED: 1927,
	/** MySQL 8.0.24+: closed for inactivity (wait_timeout). */
	ER_CLIENT_INTERACTION_TIMEOUT: 4031,
} as const;
