staff_patterns = []
cabinet_patterns = []
api_patterns = []
