"""Users in and out of a sheet (姓名, 手机号码, 角色, 县/乡镇/网格), scoped to the importer's area.

A county admin creates and updates users of their own county only, and never a 市级管理员; a row naming
another county, a town or grid outside it, or an existing account outside it is refused with a message
naming the row and column. Business keys only: places by name, the account by 用户名 (the phone number
when the column is empty); database ids in a file are never read.
"""

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from import_export import fields, resources

from outreach.accounts.models import Role, User, roles_below
from outreach.accounts.scoping import area_of, manageable_users, scope_queryset
from outreach.lib.cells import unescape_cell
from outreach.lib.names import clean_name
from outreach.lib.phones import is_valid_phone, normalize_phone
from outreach.places.models import County, GridArea, Town

PASSWORD_COLUMN = "初始密码"
_PASSWORD_SALT = "outreach.accounts.user-import-password"

ROLE_BY_LABEL = {label: value for value, label in Role.choices} | {value: value for value in Role.values}
GRID_SEPARATORS = ("、", ",", "，", ";", "；")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_name(str(unescape_cell(value)))


class UserResource(resources.ModelResource):
    username = fields.Field(attribute="username", column_name="用户名")
    name = fields.Field(column_name="姓名")
    phone = fields.Field(attribute="phone", column_name="手机号码")
    role = fields.Field(column_name="角色")
    county = fields.Field(column_name="县（市、区）")
    town = fields.Field(column_name="乡镇（街道）")
    grids = fields.Field(column_name="网格")
    password = fields.Field(column_name="初始密码")

    class Meta:
        model = User
        fields = ("username", "name", "phone", "role", "county", "town", "grids", "password")
        import_id_fields = ("username",)
        skip_unchanged = False
        use_transactions = True

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user

    # --- reading the importer's scope -----------------------------------------------------------------

    def get_queryset(self):
        # Accounts the importer may change: in their area and below their level (never a superuser).
        return manageable_users(self.user, User.objects.exclude(is_superuser=True))

    def _is_city(self) -> bool:
        return self.user is None or area_of(self.user).everything

    # --- import ---------------------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        # 用户名 is optional in the sheet (the phone number then serves), but the lookup needs the column.
        if "用户名" not in (dataset.headers or []):
            dataset.append_col([""] * dataset.height, header="用户名")

    def before_import_row(self, row, **kwargs):
        phone = normalize_phone(row.get("手机号码"))
        row["手机号码"] = phone
        if not _text(row.get("用户名")):
            row["用户名"] = phone

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        username = _text(row.get("用户名"))
        name = _text(row.get("姓名"))
        phone = row.get("手机号码") or ""
        if not username:
            errors["username"] = "用户名和手机号码不能都为空"
        elif instance.pk is None and User.objects.filter(username=username).exists():
            # The account exists outside the importer's area (or is a superuser): not theirs to change.
            errors["username"] = f"用户名“{username}”已被占用，不能导入"
        if not name:
            errors["name"] = "姓名不能为空"
        if phone and not is_valid_phone(phone):
            errors["phone"] = f"手机号码“{phone}”格式不对"
        role = ROLE_BY_LABEL.get(_text(row.get("角色")))
        if role is None:
            errors["role"] = "角色须为：" + "、".join(Role.labels)
        elif self.user is not None and role not in roles_below(self.user):
            errors["role"] = f"您不能创建或修改{Role(role).label}账号（只能管理比自己低一级及以下的账号）"

        county, town, grids = self._places(row, role, errors)
        if errors:
            raise ValidationError(errors)

        instance.username = username
        instance.last_name, instance.first_name = name, ""
        instance.phone = phone
        instance.role = role
        instance.county, instance.town = county, town
        if role == Role.CITY:
            instance.county = instance.town = None
        elif role == Role.COUNTY:
            instance.town = None
        instance.zone = None if role != Role.TOWN else instance.zone
        instance.is_staff = True
        instance._import_grids = grids
        try:
            instance.clean()
            instance.clean_grids(grids)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        kind, password = open_password(row.get(PASSWORD_COLUMN))
        if kind == "errors":
            raise ValidationError({"password": password})
        if kind == "hash":
            instance.password = password
        elif password:
            try:
                validate_password(password, instance)
            except ValidationError as exc:
                raise ValidationError({"password": exc.messages}) from exc
            instance.set_password(password)
        elif instance.pk is None:
            instance.set_unusable_password()

    def _places(self, row, role, errors):
        county_name = _text(row.get("县（市、区）"))
        town_name = _text(row.get("乡镇（街道）"))
        grid_names = _text(row.get("网格"))
        counties = scope_queryset(self.user, County.objects.all()) if self.user else County.objects.all()
        county = town = None
        grids = []
        if county_name:
            county = counties.filter(name=county_name).first()
            if county is None:
                errors["county"] = f"“{county_name}”不是运城市的县（市、区），或不在您的管辖范围内"
        elif not self._is_city():
            county = counties.first() if counties.count() == 1 else None
        if role and role != Role.CITY and county is None and "county" not in errors:
            errors["county"] = "请填写县（市、区）"
        if town_name and county is not None:
            town = Town.objects.filter(county=county, name=town_name).first()
            if town is None:
                errors["town"] = f"{county.name}没有名为“{town_name}”的乡镇（街道）"
        if role in (Role.TOWN, Role.GRID) and town is None and "town" not in errors:
            errors["town"] = "乡镇管理员和网格员须填写乡镇（街道）"
        if grid_names and town is not None:
            for part in _split(grid_names):
                village_name, _, grid_name = part.rpartition("·")
                found = GridArea.objects.filter(village__town=town, name=grid_name)
                if village_name:
                    found = found.filter(village__short_name=village_name) | found.filter(village__name=village_name)
                found = list(found[:2])
                if len(found) != 1:
                    errors["grids"] = f"{town.name}找不到唯一的网格“{part}”（写成“村名·网格名”）"
                    break
                grids.append(found[0])
        if role == Role.GRID and not grids and "grids" not in errors:
            errors["grids"] = "网格员须填写负责的网格（如“周庄村·第1网格”，多个用顿号分开）"
        return county, town, grids

    def save_m2m(self, instance, row, **kwargs):
        grids = getattr(instance, "_import_grids", None)
        if grids is not None:
            instance.grids.set(grids)

    # --- export ---------------------------------------------------------------------------------------

    def dehydrate_name(self, user):
        return f"{user.last_name}{user.first_name}"

    def dehydrate_role(self, user):
        return user.get_role_display()

    def dehydrate_county(self, user):
        return user.county.name if user.county_id else ""

    def dehydrate_town(self, user):
        return user.town.name if user.town_id else ""

    def dehydrate_grids(self, user):
        return "、".join(f"{grid.village.short_name}·{grid.name}" for grid in user.grids.all())

    def get_export_fields(self, selected_fields=None):
        # Passwords are never exported; the column exists for imports only.
        return [f for f in super().get_export_fields(selected_fields) if f.column_name != "初始密码"]

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("county", "town").prefetch_related("grids__village")


def seal_passwords(dataset):
    """Replace every 初始密码 in ``dataset`` by its checked hash (or the reasons it fails), signed, in place.

    The admin does this before the file is kept between preview and confirm, so no password is ever stored
    in the clear; the signature means a hash typed into a sheet is not taken for one we made.
    """
    headers = list(dataset.headers or [])
    if PASSWORD_COLUMN not in headers:
        return dataset
    column = headers.index(PASSWORD_COLUMN)
    rows = [list(row) for row in dataset]
    for cells in rows:
        password = str(cells[column] or "").strip() if column < len(cells) else ""
        if not password:
            continue
        values = dict(zip(headers, cells, strict=False))
        phone = normalize_phone(values.get("手机号码"))
        probe = User(username=_text(values.get("用户名")) or phone, last_name=_text(values.get("姓名")), phone=phone)
        try:
            validate_password(password, probe)
        except ValidationError as exc:
            cells[column] = signing.dumps({"errors": exc.messages}, salt=_PASSWORD_SALT)
        else:
            cells[column] = signing.dumps({"hash": make_password(password)}, salt=_PASSWORD_SALT)
    dataset.wipe()
    dataset.headers = headers
    for cells in rows:
        dataset.append(cells)
    return dataset


def open_password(value) -> tuple[str, object]:
    """What a 初始密码 cell holds: ("hash", …) or ("errors", […]) sealed by us, else ("plain", text)."""
    text = str(value or "").strip()
    if text:
        try:
            sealed = signing.loads(text, salt=_PASSWORD_SALT)
        except signing.BadSignature:
            sealed = None
        if isinstance(sealed, dict) and "hash" in sealed:
            return "hash", sealed["hash"]
        if isinstance(sealed, dict) and "errors" in sealed:
            return "errors", sealed["errors"]
    return "plain", text


def _split(text: str) -> list[str]:
    for separator in GRID_SEPARATORS[1:]:
        text = text.replace(separator, GRID_SEPARATORS[0])
    return [part.strip() for part in text.split(GRID_SEPARATORS[0]) if part.strip()]
