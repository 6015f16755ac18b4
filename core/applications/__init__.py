"""积分申请: employees ask for points with evidence; the approval chain decides."""
