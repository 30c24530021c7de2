/** A member's level and growth value as the level system keeps them. */
export interface MemberLevel {
  userId: string;
  /** Level code, e.g. `normal`, `silver`, `gold`. */
  level: string;
  growth: number;
}

/** The level system (non-core): the member level used by level-conditioned promotions. */
export interface LevelPort {
  getLevel(userId: string): Promise<MemberLevel | null>;
}
