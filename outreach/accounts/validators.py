"""Password rules with Chinese messages (Django's zh-Hans catalogue leaves some of them in English)."""

from django.contrib.auth import password_validation


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self):
        return f"密码太短，至少需要 {self.min_length} 个字符。"

    def get_help_text(self):
        return f"密码至少需要 {self.min_length} 个字符。"


class UserAttributeSimilarityValidator(password_validation.UserAttributeSimilarityValidator):
    def get_error_message(self):
        return "密码与%(verbose_name)s太相似。"

    def get_help_text(self):
        return "密码不能与用户名、姓名、手机号码等个人信息太相似。"


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    def get_error_message(self):
        return "这个密码太常见，容易被猜中。"

    def get_help_text(self):
        return "不能使用常见密码。"


class NumericPasswordValidator(password_validation.NumericPasswordValidator):
    def get_error_message(self):
        return "密码不能全是数字。"

    def get_help_text(self):
        return "密码不能全是数字。"
