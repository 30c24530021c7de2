/** A member of the loyalty programme as the user system knows them. */
export interface User {
  userId: string;
  name: string;
  /** Member level code, e.g. `silver`, `gold`. */
  level: string;
}

/** The user system (core): identity and member level. */
export interface UserPort {
  /** The user, or null when the user system does not know them. */
  getUser(userId: string): Promise<User | null>;
}
